"""What every route shares at the boundary: declared errors, bounds, refused characters.

Every route may answer with the error document ``{"error": {"code", "message",
"field"?}}`` (see ``app.py``); declaring it once per status code keeps
``/openapi.json`` true to what the server sends, which the schemathesis fuzzing
test (tests/e2e/test_fuzz.py) checks against a running server.

Two inputs are refused before they reach the ledger, because once recorded in an
event they would stop the views (and the log's readers) at that event for good:
the NUL character (PostgreSQL text cannot hold it) in paths, queries and bodies,
and times that overflow a datetime once converted to UTC (``9999-12-31T23:59-14:00``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field

from handoff_ledger.domain.durations import parse_time, require_in_range
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["ERRORS", "ErrorDocument", "in_range", "no_nul", "nul_at"]


T = TypeVar("T", bound=datetime | timedelta)


def query_time(text: str | None, name: str, now: datetime) -> datetime | None:
    """An optional time from the query string (ISO 8601, or a duration back from
    ``now``), within the domain's range."""
    return in_range(parse_time(text, name=name, now=now), name) if text else None


def in_range(value: T, name: str) -> T:
    """A time given in the request, if it is within the domain's range in UTC."""
    if isinstance(value, datetime):
        require_in_range(value, name)
    return value


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message naming the bad input, its field."""

    code: str = Field(description="Stable, machine-readable: `unauthorized`, `not_permitted`, …")
    message: str
    field: str | None = Field(default=None, description="The input at fault, as a dotted path.")
    line: int | None = Field(default=None, description="The line at fault (protocol files).")


class ErrorDocument(BaseModel):
    """The body of every 4xx answer."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDocument, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("No bearer token, or an unknown or revoked one."),
    403: _error("The caller's agent may not do this (not its handoff, not its feed)."),
    404: _error("No handoff (or chain) has this id."),
    409: _error("The handoff's state forbids it, or another agent's command won the race."),
    413: _error("The request body is over the 1 MiB limit."),
    422: _error("A field is invalid (named in `error.field`), or the body is not JSON."),
}
"""The error answers any route can give, for ``APIRouter(responses=...)``."""


def nul_at(value: Any, where: str = "") -> str | None:
    """The first string (or key) in ``value`` holding a NUL or a lone surrogate, as
    ``"dotted.path: what"``, or None. Iterative: a body nested too deep is the
    domain's to refuse by name, not a crash here."""
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            fault = _text_fault(item)
            if fault:
                return f"{path or 'value'}: {fault}"
        elif isinstance(item, dict):
            inners = []
            for key, inner in item.items():
                inner_path = f"{path}.{key}" if path else str(key)
                fault = _text_fault(str(key))
                if fault and "\x00" in str(key):
                    return f"{inner_path}: {fault}"  # as ever: the path shows where
                if fault:
                    return f"{path or 'value'}: a key {fault}"  # the key itself cannot be shown
                inners.append((inner, inner_path))
            pending.extend(reversed(inners))
        elif isinstance(item, list | tuple):
            pending.extend(
                reversed([(x, f"{path}.{i}" if path else str(i)) for i, x in enumerate(item)])
            )
    return None


def _text_fault(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate, half of a \\ud800-\\udfff pair)"
    return None


def no_nul(request: Request) -> None:
    """Router dependency: a path or query value holding a NUL is bad input (422).

    (Starlette decodes them as UTF-8, replacing what is not: no lone surrogate.)"""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in str(name) or "\x00" in str(value):
            raise InvalidInput(f"{name.replace(chr(0), '')}: contains a NUL character (\\u0000)")
