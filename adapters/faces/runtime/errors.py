"""How the faces answer a ledger error over HTTP: one status per error kind.

Every failure is a JSON document ``{"error": {"code", "message", "field"?}}``:
401 no or bad token, 403 not yours, 404 unknown, 409 state conflict or lost race,
422 invalid field (with its path), 503 the store is unavailable (unreachable, or a
wait on it ran past its bound). The HTTP API, the dashboard and ``/mcp`` share
this mapping, so one refusal reads the same on each.
"""

from __future__ import annotations

import re

from handoff_ledger.adapters.services.documents import error_document
from handoff_ledger.adapters.services.vocabulary import ErrorDocument, Reply
from handoff_ledger.adapters.store.errors import StoreUnavailable, store_failure
from handoff_ledger.domain.errors import (
    HandoffError,
    InvalidInput,
    NotPermitted,
    Refused,
    UnknownHandoff,
)

__all__ = [
    "INTERNAL_ERROR",
    "Unauthorized",
    "error_answer",
    "named_error",
    "status_for",
    "unexpected_answer",
]


class Unauthorized(HandoffError):
    """No token, or one that is unknown or revoked (HTTP 401)."""

    code = "unauthorized"


def status_for(error: HandoffError) -> int:
    """The HTTP status of a ledger error."""
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, StoreUnavailable):
        return 503
    if isinstance(error, UnknownHandoff):
        return 404
    if isinstance(error, NotPermitted):
        return 403
    if isinstance(error, Refused):
        return 409
    if isinstance(error, InvalidInput):
        return 422
    return 400


def error_answer(error: HandoffError) -> tuple[int, ErrorDocument, dict[str, str] | None]:
    """The status, error document and headers with which a ledger error is answered."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return status_for(error), named_error(error), headers


def named_error(error: HandoffError) -> ErrorDocument:
    """The ledger's error document; bad input names its field (HTTP and MCP alike)."""
    document = error_document(error)
    if isinstance(error, InvalidInput) and "field" not in document["error"]:
        # Messages name their field first ("ack_within: 'soon' is not a duration").
        named = error.message.split(":", 1)[0]
        if re.fullmatch(r"[a-z_][a-z_0-9.]*", named):
            document["error"]["field"] = named
    return document


INTERNAL_ERROR = {"error": {"code": "internal", "message": "internal error (see the server log)"}}
"""The answer to a failure of the server itself (500); the details go to its log."""


def unexpected_answer(error: Exception) -> tuple[int, Reply]:
    """The answer to an exception that is not a ledger error.

    A store that failed under the request (locked past its bound, unreachable,
    full) is 503 ``store_unavailable`` with the cause; anything else is a bug of
    the server: 500 ``internal``, details in its log only.
    """
    unavailable = store_failure(error)
    if unavailable is not None:
        return 503, error_document(unavailable)
    return 500, INTERNAL_ERROR
