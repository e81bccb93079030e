"""The dashboard's live stream: log entries as server-sent events, rendered as table rows.

It reads the log like ``GET /log/stream`` (the same polling, the same
``Last-Event-ID`` / ``?since=`` resume point, ids are log positions), but it
authenticates with the dashboard's cookie and sends each entry as the overview's
HTML row (rendered by the same autoescaped template as the page), so the page's
script inserts it as it is. Each time the log has grown, the token is checked
again before anything is sent: revoking it appends to the log, so an open stream
ends (with a ``signed_out`` event) as soon as its token is revoked.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from handoff_ledger.adapters.dashboard import auth
from handoff_ledger.adapters.dashboard.render import render
from handoff_ledger.adapters.documents import log_entry
from handoff_ledger.adapters.http.app import Service
from handoff_ledger.adapters.http.streams import KEEP_ALIVE_SECONDS, POLL_SECONDS, After
from handoff_ledger.adapters.tokens import authenticate

__all__ = ["router"]

log = logging.getLogger(__name__)

RETRY_MS = 1000
SHUTDOWN_GRACE_SECONDS = 5
PAGE = 500

router = APIRouter()


class RowPoll:
    """One poll: the log's new entries as rendered rows, or None once the token is revoked.

    ``scanned`` works as in :class:`handoff_ledger.adapters.http.streams.LogPoll`: the
    head is read first and every event at or below it is committed, so an idle poll
    is one query and nothing is skipped.
    """

    def __init__(self, svc: Service, secret: str | None, after: int) -> None:
        self.svc, self.secret = svc, secret
        self.scanned = after

    def __call__(self) -> list[tuple[int, str]] | None:
        ledger = self.svc.ledger
        head = ledger.recorder.max_notification_id() or 0
        if head <= self.scanned:
            return []
        if self.secret is not None and authenticate(ledger, self.secret) is None:
            return None
        now = ledger.clock.now()
        page = list(ledger.read_log(after=self.scanned, limit=PAGE))
        if len(page) == PAGE:
            self.scanned = page[-1].position
        else:
            self.scanned = max([head, *(e.position for e in page)])
        return [(e.position, _row(log_entry(e), now)) for e in page]


def _row(entry: dict[str, Any], now: datetime) -> str:
    return render("_log_row.html", entry=entry, moment=now).strip()


@router.get("/stream")
async def stream(request: Request, after: After) -> Response:
    """New log entries as ``entry`` events whose data is the overview's table row."""
    who = await anyio.to_thread.run_sync(auth.viewer, request)
    if who is None:
        return auth.unauthorized()
    secret = None if who == auth.TRIAL_VIEWER else auth.secret_of(request)
    poll = RowPoll(auth.service(request), secret, after)
    shutdown = anyio.Event()
    return EventSourceResponse(
        _frames(poll, shutdown),
        ping=KEEP_ALIVE_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
        headers={"Cache-Control": "no-store"},
    )


async def _frames(poll: RowPoll, shutdown: anyio.Event) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(retry=RETRY_MS)
    while not shutdown.is_set():
        try:
            rows = await anyio.to_thread.run_sync(poll)
        except Exception:
            # The store went away: end the stream; the page's script reconnects.
            log.exception("dashboard stream: reading the store failed; closing the stream")
            return
        if rows is None:
            yield ServerSentEvent("revoked", event="signed_out")
            return
        for position, row in rows:
            yield ServerSentEvent(row, id=str(position), event="entry")
        if rows is not None and len(rows) < PAGE:
            with anyio.move_on_after(POLL_SECONDS):
                await shutdown.wait()
