"""The one server-sent-events loop: a stream of polls, its resume point, the log's tail.

A stream sends everything recorded after its resume point, oldest first, then keeps
polling the store (every ``POLL_SECONDS``) and sends what is new. Each event's SSE
``id`` is where it stands (the log position, or the feed cursor), so a client that
reconnects with ``Last-Event-ID`` (or ``?since=``) misses nothing and sees nothing
twice. Between polls no database connection is held; while nothing happens a
keep-alive comment goes out every ``KEEP_ALIVE_SECONDS``. A stream ends when its
client disconnects, when the server shuts down (sse-starlette watches uvicorn's
exit signal), and when its poll says so (the dashboard's, once its token is revoked).
The HTTP API's streams and the dashboard's live rows both run on this loop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from handoff_ledger.adapters.ledger.application import Ledger, LoggedEvent
from handoff_ledger.domain.errors import InvalidInput

__all__ = [
    "KEEP_ALIVE_SECONDS",
    "MAX_POSITION",
    "PAGE",
    "POLL_SECONDS",
    "After",
    "Frame",
    "LogTail",
    "Poll",
    "event_stream",
    "resume_point",
]

log = logging.getLogger(__name__)

MAX_POSITION = 2**63 - 1
"""The largest log position or feed cursor (both stores keep them as 64-bit integers)."""
POLL_SECONDS = 0.2
"""How often an idle stream asks the store whether the log has grown."""
KEEP_ALIVE_SECONDS = 15
"""How often an idle stream sends a comment, so proxies keep the connection open."""
RETRY_MS = 1000
"""The reconnection delay a stream suggests to its client (the SSE ``retry`` field)."""
PAGE = 500
"""The most entries one poll reads; a full page means more may be waiting."""
SHUTDOWN_GRACE_SECONDS = 5
"""How long a stream has to finish its frame in hand once the server shuts down."""

Frame = tuple[int, str]
"""An event to send: its SSE id (a position) and its data."""
Poll = Callable[[], list[Frame] | None]
"""One look at the store: the frames to send now (none: sleep), or None to end."""


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


class LogTail:
    """The log's entries after the last one read, a page at a time.

    ``scanned`` is how far the log has been considered. The log's head is read
    first, and no event can be committed at or below it any more (SQLite appends in
    position order; PostgreSQL's head is at its horizon, ``store/log_format.py``), so
    an idle poll is one query and events that are not handoff events (tokens,
    protocol versions) are not scanned twice.
    """

    def __init__(self, ledger: Ledger, after: int) -> None:
        self.ledger = ledger
        self.scanned = after

    def read(self, allowed: Callable[[], bool] | None = None) -> list[LoggedEvent] | None:
        """The new entries (none while the log has not grown); None if the log grew
        and ``allowed`` (asked only then) says the reader may no longer read it."""
        head = self.ledger.head()
        if head <= self.scanned:
            return []
        if allowed is not None and not allowed():
            return None
        page = list(self.ledger.read_log(after=self.scanned, limit=PAGE))
        if len(page) == PAGE:
            self.scanned = page[-1].position
        else:
            self.scanned = max([head, *(e.position for e in page)])
        return page


def event_stream(
    poll: Poll,
    *,
    event: str | None = None,
    ended: ServerSentEvent | None = None,
    headers: dict[str, str] | None = None,
) -> EventSourceResponse:
    """A response that sends ``poll``'s frames (as ``event`` events) until the client
    leaves, the server stops, or the poll ends the stream (``ended`` is sent then)."""
    shutdown = anyio.Event()
    return EventSourceResponse(
        _frames(poll, shutdown, event, ended),
        ping=KEEP_ALIVE_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
        headers=headers,
    )


async def _frames(
    poll: Poll, shutdown: anyio.Event, event: str | None, ended: ServerSentEvent | None
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
        if frames is None:
            if ended is not None:
                yield ended
            return
        for position, data in frames:
            yield ServerSentEvent(data, id=str(position), event=event)
        if len(frames) < PAGE:
            with anyio.move_on_after(POLL_SECONDS):
                await shutdown.wait()
