"""The dashboard's live stream: log entries as server-sent events, rendered as table rows.

It runs on the same SSE loop as ``GET /log/stream`` (the same polling, the same
``Last-Event-ID`` / ``?since=`` resume point, ids are log positions), but it
authenticates with the dashboard's cookie and sends each entry as the overview's
HTML row (rendered by the same autoescaped template as the page), so the page's
script inserts it as it is. Each time the log has grown, the token is checked
again before anything is sent: revoking it appends to the log, so an open stream
ends (with a ``signed_out`` event) as soon as its token is revoked.
"""

from __future__ import annotations

from datetime import datetime

import anyio
from fastapi import APIRouter, Request
from sse_starlette import ServerSentEvent
from starlette.responses import Response

from handoff_ledger.adapters.faces.dashboard import auth
from handoff_ledger.adapters.faces.dashboard.render import render
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.faces.runtime.sse import After, Frame, LogTail, event_stream
from handoff_ledger.adapters.ledger.tokens import authenticate
from handoff_ledger.adapters.services.documents import log_entry
from handoff_ledger.adapters.services.vocabulary import Reply

__all__ = ["router"]

router = APIRouter()


class RowPoll:
    """One poll: the log's new entries as rendered rows, or None once the token is revoked.

    The token is looked at only when the log has grown (:class:`LogTail`), so an idle
    poll is one query, and a revocation (itself an event) is seen at once.
    """

    def __init__(self, svc: Service, secret: str | None, after: int) -> None:
        self.svc, self.secret = svc, secret
        self.tail = LogTail(svc.ledger, after)

    def __call__(self) -> list[Frame] | None:
        ledger = self.svc.ledger
        now = ledger.clock.now()
        page = self.tail.read(None if self.secret is None else self._still_signed_in)
        if page is None:
            return None
        return [(e.position, _row(log_entry(e), now)) for e in page]

    def _still_signed_in(self) -> bool:
        return self.secret is not None and authenticate(self.svc.ledger, self.secret) is not None


def _row(entry: Reply, now: datetime) -> str:
    return render("_log_row.html", entry=entry, moment=now).strip()


@router.get("/stream")
async def stream(request: Request, after: After) -> Response:
    """New log entries as ``entry`` events whose data is the overview's table row."""
    who = await anyio.to_thread.run_sync(auth.viewer, request)
    if who is None:
        return auth.unauthorized()
    secret = None if who == auth.TRIAL_VIEWER else auth.secret_of(request)
    poll = RowPoll(auth.service(request), secret, after)
    return event_stream(
        poll,
        event="entry",
        ended=ServerSentEvent("revoked", event="signed_out"),
        headers={"Cache-Control": "no-store"},
    )
