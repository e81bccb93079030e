"""Live streams (server-sent events): the handoff log and an agent's notification feed.

Both run on the faces' one SSE loop (:mod:`handoff_ledger.adapters.faces.runtime.sse`):
everything after the resume point (``Last-Event-ID`` or ``?since=``), then what is
new, each event's ``id`` the position to resume after.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic_core import to_json
from sse_starlette import EventSourceResponse

from handoff_ledger.adapters.faces.http.boundary import ERRORS, no_nul
from handoff_ledger.adapters.faces.http.routes import Me, Svc
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.faces.runtime.sse import PAGE, After, Frame, LogTail, event_stream
from handoff_ledger.adapters.services.documents import log_entry
from handoff_ledger.adapters.services.queries import notifications_document
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.domain.errors import NotPermitted

__all__ = ["router"]

NOTIFICATIONS = "notifications"

router = APIRouter(tags=["streams"], responses=ERRORS, dependencies=[Depends(no_nul)])

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: one event per entry, its `id` "
        "the position to resume after, its `data` the entry's JSON document.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/log/stream", response_class=EventSourceResponse, responses=_STREAM)
async def log_stream(svc: Svc, me: Me, after: After) -> EventSourceResponse:
    """The handoff log as server-sent events: each entry of `GET /log`, then live ones."""
    return event_stream(LogPoll(svc, after))


def feed_owner(name: str, svc: Svc, me: Me) -> str:
    """The agent whose feed is asked for, if the caller may read it (its own, or admin)."""
    if name != me.agent and not (me.admin or svc.ledger.is_admin(me.agent)):
        raise NotPermitted(f"notifications: {me.agent} may read only its own feed, not {name}'s")
    return name


@router.get(
    "/agents/{name}/notifications/stream", response_class=EventSourceResponse, responses=_STREAM
)
async def notifications_stream(
    owner: Annotated[str, Depends(feed_owner)], svc: Svc, after: After
) -> EventSourceResponse:
    """An agent's notification feed as server-sent events (agents their own; admins any)."""
    return event_stream(FeedPoll(svc, owner, after))


class LogPoll:
    """One poll of the log: the entries after the last one sent."""

    def __init__(self, svc: Service, after: int) -> None:
        self.tail = LogTail(svc.ledger, after)

    def __call__(self) -> list[Frame]:
        return [(e.position, _json(log_entry(e))) for e in self.tail.read() or ()]


class FeedPoll:
    """One poll of an agent's feed: the entries after the cursor last sent.

    ``seen`` is the notifications view's position when the feed was last read in
    full: the feed holds every entry up to it, so until the log grows past it there
    is nothing new to read (an idle poll is one query).
    """

    def __init__(self, svc: Service, agent: str, after: int) -> None:
        self.svc, self.agent = svc, agent
        self.cursor = self.seen = after

    def __call__(self) -> list[Frame]:
        head = self.svc.ledger.head()
        if head <= self.seen:
            return []
        views = self.svc.fresh_views()
        position = views.store.positions([NOTIFICATIONS])[NOTIFICATIONS]
        document = notifications_document(views, self.agent, self.cursor, PAGE)
        entries = document["notifications"]
        self.cursor = document["next"]
        if len(entries) < PAGE:
            self.seen = max(self.seen, position)
        return [(e["cursor"], _json(e)) for e in entries]


def _json(document: Reply) -> str:
    """As the JSON routes write it (pydantic: NaN and infinities become null)."""
    return to_json(document).decode()
