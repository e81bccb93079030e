"""Live streams (server-sent events): the handoff log and an agent's notification feed.

A stream sends everything recorded after its resume point, oldest first, then keeps
polling the store (every ``POLL_SECONDS``) and sends what is new. Each event's SSE
``id`` is where it stands (the log position, or the feed cursor), so a client that
reconnects with ``Last-Event-ID`` (or ``?since=``) misses nothing and sees nothing
twice. Between polls no database connection is held; while nothing happens a
keep-alive comment goes out every ``KEEP_ALIVE_SECONDS``. A stream ends when its
client disconnects and when the server shuts down (sse-starlette watches uvicorn's
exit signal).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query
from pydantic_core import to_json
from sse_starlette import EventSourceResponse, ServerSentEvent

from handoff_ledger.adapters.documents import log_entry
from handoff_ledger.adapters.http.app import Service
from handoff_ledger.adapters.http.boundary import ERRORS, MAX_POSITION, no_nul
from handoff_ledger.adapters.http.routes import Me, Svc
from handoff_ledger.adapters.queries import notifications_document
from handoff_ledger.domain.errors import InvalidInput, NotPermitted

__all__ = ["KEEP_ALIVE_SECONDS", "POLL_SECONDS", "router"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
"""How often an idle stream asks the store whether the log has grown."""
KEEP_ALIVE_SECONDS = 15
"""How often an idle stream sends a comment, so proxies keep the connection open."""
RETRY_MS = 1000
"""The reconnection delay a stream suggests to its client (the SSE ``retry`` field)."""
PAGE = 500
SHUTDOWN_GRACE_SECONDS = 5
"""How long a stream has to finish its frame in hand once the server shuts down."""
NOTIFICATIONS = "notifications"

router = APIRouter(tags=["streams"], responses=ERRORS, dependencies=[Depends(no_nul)])

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: one event per entry, its `id` "
        "the position to resume after, its `data` the entry's JSON document.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
Frame = tuple[int, str]
"""An event to send: its SSE id (a position) and its JSON data."""


def resume_point(
    since: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Send what comes after this position.")
    ] = 0,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received (wins over `since`).",
        ),
    ] = None,
) -> int:
    """Where a stream resumes: after ``Last-Event-ID`` if sent, else after ``since``."""
    if last_event_id is None or not last_event_id.strip():
        return since
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_POSITION:
        raise InvalidInput(f"Last-Event-ID: {text[:40]!r} is not a position (a whole number)")
    return int(text)


After = Annotated[int, Depends(resume_point)]


@router.get("/log/stream", response_class=EventSourceResponse, responses=_STREAM)
async def log_stream(svc: Svc, me: Me, after: After) -> EventSourceResponse:
    """The handoff log as server-sent events: each entry of `GET /log`, then live ones."""
    return _respond(LogPoll(svc, after))


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
    return _respond(FeedPoll(svc, owner, after))


class LogPoll:
    """One poll of the log: the entries after the last one sent.

    ``scanned`` is how far the log has been considered. The log's head is read
    first, and every event at or below it is already committed (both stores append
    in position order), so an idle poll is one query and events that are not
    handoff events (tokens, protocol versions) are not scanned twice.
    """

    def __init__(self, svc: Service, after: int) -> None:
        self.ledger = svc.ledger
        self.scanned = after

    def __call__(self) -> list[Frame]:
        head = self.ledger.recorder.max_notification_id() or 0
        if head <= self.scanned:
            return []
        page = list(self.ledger.read_log(after=self.scanned, limit=PAGE))
        frames = [(e.position, _json(log_entry(e))) for e in page]
        if len(page) == PAGE:
            self.scanned = page[-1].position
        else:
            self.scanned = max([head, *(e.position for e in page)])
        return frames


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
        head = self.svc.ledger.recorder.max_notification_id() or 0
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


def _respond(poll: Callable[[], list[Frame]]) -> EventSourceResponse:
    shutdown = anyio.Event()
    return EventSourceResponse(
        _frames(poll, shutdown),
        ping=KEEP_ALIVE_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )


async def _frames(
    poll: Callable[[], list[Frame]], shutdown: anyio.Event
) -> AsyncIterator[ServerSentEvent]:
    """Poll on a worker thread (the store's calls block), send each frame, sleep when idle.

    A full page means more may be waiting, so the next poll comes at once. When the
    server shuts down, ``shutdown`` is set and the stream ends after the frame in hand,
    so the response is finished properly rather than cut off.
    """
    yield ServerSentEvent(retry=RETRY_MS)
    while not shutdown.is_set():
        try:
            frames = await anyio.to_thread.run_sync(poll)
        except Exception:
            # The store went away: end the stream; the client resumes where it was.
            log.exception("stream: reading the store failed; closing the stream")
            return
        for position, data in frames:
            yield ServerSentEvent(data, id=str(position))
        if len(frames) < PAGE:
            with anyio.move_on_after(POLL_SECONDS):
                await shutdown.wait()


def _json(document: dict[str, Any]) -> str:
    """As the JSON routes write it (pydantic: NaN and infinities become null)."""
    return to_json(document).decode()
