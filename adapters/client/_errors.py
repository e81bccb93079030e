"""The errors a handoff-ledger server answers with, as exceptions.

Every error the server sends is a JSON document ``{"error": {"code", "message",
"field"?}}`` with an HTTP status; the client raises the exception for that status::

    HandoffLedgerError        any error answer (.status, .code, .message, .field)
    ├── Unauthorized          401  no token, or an unknown or revoked one
    ├── Forbidden             403  the token's agent may not do this (not the receiver…)
    ├── NotFound              404  no such handoff (or path)
    ├── Conflict              409  the handoff's state forbids it, or a race was lost
    ├── PayloadTooLarge       413  the request body is over the server's 1 MiB limit
    ├── InvalidInput          422  a field is wrong; ``.field`` names it (``ack_within``)
    └── ServerError           5xx  the server failed (see its log)

A server that cannot be reached raises httpx's own ``httpx.TransportError``
(``httpx.ConnectError``, ``httpx.TimeoutException``…): nothing was answered.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "Conflict",
    "Forbidden",
    "HandoffLedgerError",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "Unauthorized",
    "error_for",
]


class HandoffLedgerError(Exception):
    """An error answer from the server: its HTTP ``status``, ``code``, ``message``, ``field``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class Unauthorized(HandoffLedgerError):
    """401: no bearer token, or one the server does not know (unknown or revoked)."""


class Forbidden(HandoffLedgerError):
    """403: the token's agent may not do this (e.g. only the receiver acks)."""


class NotFound(HandoffLedgerError):
    """404: no handoff has that id."""


class Conflict(HandoffLedgerError):
    """409: the handoff's state forbids it (it is closed), or another agent won a race."""


class PayloadTooLarge(HandoffLedgerError):
    """413: the request body is over the server's limit (1 MiB)."""


class InvalidInput(HandoffLedgerError):
    """422: a value is wrong; ``field`` names it (``ack_within``, ``payload.customer``)."""


class ServerError(HandoffLedgerError):
    """5xx: the server failed; the details are in its log, not in the answer."""


_BY_STATUS: dict[int, type[HandoffLedgerError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
}


def error_for(response: httpx.Response) -> HandoffLedgerError:
    """The exception for an error ``response`` (whatever its body holds)."""
    status = response.status_code
    kind = ServerError if status >= 500 else _BY_STATUS.get(status, HandoffLedgerError)
    detail = _error_body(response)
    code = detail.get("code")
    message = detail.get("message")
    field = detail.get("field")
    return kind(
        status,
        code if isinstance(code, str) else "http_error",
        message if isinstance(message, str) else _fallback_message(response),
        field if isinstance(field, str) else None,
    )


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def _fallback_message(response: httpx.Response) -> str:
    text = response.text.strip()
    return text[:200] if text else response.reason_phrase or f"HTTP {response.status_code}"
