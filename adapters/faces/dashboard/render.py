"""Turning page models into HTML: the template environment, its filters, the headers.

Autoescaping is on for every template, so whatever an agent wrote (a trigger, a
payload, a status message, a reason) reaches the page as text, never as markup.
The Content-Security-Policy allows scripts and styles from the dashboard itself
only: an injected ``<script>`` would not run even if it got through.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from handoff_ledger.adapters.services.documents import parse_iso
from handoff_ledger.adapters.services.human_times import (
    human_text,
    human_time,
    rough_duration,
)
from handoff_ledger.adapters.services.human_times import relative as relative_to

__all__ = ["SECURITY_HEADERS", "html", "render", "templates"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every page and fragment."""


def clock(text: str | datetime | None) -> str:
    """``2026-11-25T09:05:12Z``: a document's time, as every human face writes it."""
    return human_time(text)


def relative(text: str | None, moment: datetime) -> str:
    """How far ``text`` is from ``moment``: ``in 25m``, ``2h 5m ago``, ``now``."""
    return relative_to(text, moment)


def after(text: str | None, start: str | None) -> str:
    """``+5m``: how long after ``start`` a step came."""
    when, origin = parse_iso(text), parse_iso(start)
    if when is None or origin is None:
        return ""
    return "+" + rough_duration(when - origin) if when > origin else "+0s"


def seconds(value: float | None) -> str:
    """``1h 30m``: a lateness in seconds, rounded as people read it (``-`` for none)."""
    return "-" if value is None else rough_duration(timedelta(seconds=value))


def percent(value: float | None) -> str:
    """``66.7%``, ``50%`` (``-`` for none), as ``agents list`` writes a kept share."""
    return "-" if value is None else f"{value:g}%"


def pretty(value: Any) -> str:
    """A JSON value laid out for reading (escaped as text by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def compact(value: Any, limit: int = 160) -> str:
    """A JSON value on one line, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def path_part(text: str) -> str:
    """A name as one URL path segment (agent names may hold ``/`` and ``:``)."""
    return quote(text, safe="")


def epoch(text: str | datetime | None) -> str:
    """Seconds since 1970 (the slider's unit), as text."""
    moment = text if isinstance(text, datetime) else parse_iso(text)
    return "" if moment is None else f"{moment.timestamp():.6f}"


templates = Environment(
    loader=PackageLoader("handoff_ledger.adapters.faces.dashboard", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(
    clock=clock,
    relative=relative,
    after=after,
    pretty=pretty,
    compact=compact,
    epoch=epoch,
    path=path_part,
    short=lambda text: text[:8],
    human=human_text,
    seconds=seconds,
    percent=percent,
)


def render(template: str, /, **context: Any) -> str:
    """The template filled with ``context``."""
    return templates.get_template(template).render(**context)


def html(template: str, /, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page or fragment response with the dashboard's security headers."""
    body = render(template, **context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
