"""Each operation of the HTTP API as a request to make: shared by both clients.

The sync and the async client differ only in how they send; what they send (method,
path, query, body, headers) and how an answer becomes a document or an error is
here, once. Durations may be given as the server reads them (``"2h"``, ``"PT30M"``)
or as ``timedelta``; times as ISO 8601 strings or ``datetime`` (naive means UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from handoff_ledger.client._errors import HandoffLedgerError, error_for

__all__ = [
    "Call",
    "Document",
    "Duration",
    "HandoffId",
    "Moment",
    "base_headers",
    "document",
    "duration",
    "moment",
    "path",
    "taken",
    "waiting_timeout",
]

Document = dict[str, Any]
"""A JSON document, exactly as the server (and ``handoff … --json``) writes it."""
Duration = str | timedelta
Moment = str | datetime
HandoffId = str | UUID

USER_AGENT = "handoff-ledger-client/0.1.0"
TRIAL_HEADER = "X-Handoff-Agent"


@dataclass(frozen=True)
class Call:
    """One request: the same for the sync and the async client."""

    method: str
    path: str
    body: Document | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def base_headers(token: str | None, agent: str | None) -> dict[str, str]:
    """Who the client acts as: a bearer token, else (``serve --trial``) a named agent."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif agent:
        headers[TRIAL_HEADER] = agent
    return headers


def path(*parts: str | UUID) -> str:
    """A URL path from its segments, each one escaped (an id cannot climb out)."""
    return "/" + "/".join(quote(str(part), safe="") for part in parts)


def duration(value: Duration | None) -> str | None:
    """A duration as the server reads it (``timedelta`` → ISO 8601 ``PT…S``)."""
    if value is None or isinstance(value, str):
        return value
    seconds = f"{value.total_seconds():.6f}".rstrip("0").rstrip(".")
    return f"PT{seconds}S"


def moment(value: Moment | timedelta | None) -> str | None:
    """A time as ISO 8601 (``datetime`` → ``isoformat``); a ``timedelta`` as a duration."""
    if isinstance(value, timedelta):
        return duration(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def compact(**fields: Any) -> Document:
    """A request body without the fields left out (``None``)."""
    return {name: value for name, value in fields.items() if value is not None}


def query(**fields: str | int | None) -> dict[str, str | int]:
    """Query parameters without the ones left out (``None``)."""
    return {name: value for name, value in fields.items() if value is not None}


def document(response: httpx.Response) -> Document:
    """The answer's JSON document, or the typed error it carries."""
    if response.is_success:
        found = response.json()
        if isinstance(found, dict):
            return found
        raise HandoffLedgerError(
            response.status_code, "unexpected_answer", "the server did not answer a JSON object"
        )
    raise error_for(response)


def taken(response: httpx.Response) -> Document | None:
    """``next``'s answer: the handoff taken, or None (204: nothing to take)."""
    if response.status_code == 204:
        return None
    return document(response)


WAIT_ALLOWANCE = 60.0
"""Seconds the server may hold a waiting request (its longest ``wait``)."""


def waiting_timeout(timeout: httpx.Timeout) -> httpx.Timeout:
    """The client's timeout, its read part lengthened by the longest wait."""
    read = timeout.read + WAIT_ALLOWANCE if timeout.read is not None else None
    return httpx.Timeout(connect=timeout.connect, read=read, write=timeout.write, pool=timeout.pool)
