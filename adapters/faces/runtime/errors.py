"""How the faces answer a ledger error over HTTP: one status per error kind.

Every failure is a JSON document ``{"error": {"code", "message", "field"?}}``:
401 no or bad token, 403 not yours, 404 unknown, 409 state conflict or lost race,
422 invalid field (with its path), 503 the store is unavailable (unreachable, or a
wait on it ran past its bound). The HTTP API, the dashboard and ``/mcp`` share
this mapping, so one refusal reads the same on each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
    "IDENTITY_FIELDS",
    "INTERNAL_ERROR",
    "Unauthorized",
    "error_answer",
    "invalid_fields",
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


_ACTING = {"as", "from"}
"""The CLI's options for who acts: on HTTP and MCP the caller acts, named ``agent``."""


def named_error(error: HandoffError) -> ErrorDocument:
    """The ledger's error document; bad input names its field (HTTP and MCP alike).

    The ledger names the acting agent by the CLI's options (``as``, ``from``); these
    faces have no such field (the token, or ``mcp --agent``, says who acts), so they
    name it ``agent``.
    """
    document = error_document(error)
    if isinstance(error, InvalidInput) and "field" not in document["error"]:
        # Messages name their field first ("ack_within: 'soon' is not a duration").
        named, _, rest = error.message.partition(":")
        if named in _ACTING:
            named = "agent"
            document["error"]["message"] = f"agent (the caller's):{rest}"
        if re.fullmatch(r"[a-z_][a-z_0-9.]*", named):
            document["error"]["field"] = named
    return document


IDENTITY_FIELDS = frozenset({"from", "sender", "as", "by", "agent"})
"""Fields a newcomer sends to say who acts: refused, since the caller is who acts."""


def invalid_fields(
    problems: Sequence[Mapping[str, Any]], allowed: Iterable[str], *, noun: str, identity: str
) -> ErrorDocument:
    """Validation problems (pydantic's ``errors()``, locations relative to the body or
    the arguments) as one error document, worded the same on HTTP and MCP.

    ``noun`` is what the face calls its inputs ("field", "argument"); ``identity``
    says who acts on that face, for the caller who sent ``from`` or ``as``.
    """
    names = ", ".join(allowed)
    messages, first = [], ""
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
        first = first or where
        kind = problem.get("type")
        if kind == "extra_forbidden" and where in IDENTITY_FIELDS:
            messages.append(f"{where}: not accepted: {identity} ({noun}s: {names})")
        elif kind == "extra_forbidden":
            messages.append(f"{where}: unknown {noun} ({noun}s: {names})")
        elif kind == "missing":
            messages.append(f"{where}: required")
        else:
            messages.append(f"{where}: {problem.get('msg', 'invalid')}")
    return {"error": {"code": "invalid_input", "message": "; ".join(messages), "field": first}}


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
