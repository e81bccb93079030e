"""Following one handoff as it changes: what blocking sends and streams wait on.

One look is one cheap query (the log's head); the handoff's history is read again
only when the log has grown. The head is read before the history, so an event
recorded between the two is seen by the next look, never skipped. The ledger's
calls block, so each runs on a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import anyio
from anyio import to_thread

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.domain.handoff import Handoff

__all__ = ["POLL_SECONDS", "changes"]

POLL_SECONDS = 0.02
"""How often a waiting request looks at the log's head (one indexed query)."""

Events = list[Handoff.Event]


async def changes(
    ledger: Ledger,
    handoff_id: UUID,
    seen: int,
    *,
    gone: Callable[[], Awaitable[bool]] | None = None,
    poll: float = POLL_SECONDS,
) -> AsyncIterator[Events]:
    """The handoff's whole history each time it has events past version ``seen``,
    until the caller stops iterating (or ``gone`` says the client left)."""
    while True:
        head = await to_thread.run_sync(ledger.head)
        events = await to_thread.run_sync(lambda: ledger.history(handoff_id))
        if events[-1].originator_version > seen:
            seen = events[-1].originator_version
            yield events
        while await to_thread.run_sync(ledger.head) <= head:
            if gone is not None and await gone():
                return
            await anyio.sleep(poll)
