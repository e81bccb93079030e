"""Following one handoff as it changes: what blocking sends and streams wait on.

A waiting request wakes when this process saves an event (the ledger's ``on_saved``:
an ack or completion through this server's HTTP API, MCP or A2A faces) and
otherwise every ``POLL_SECONDS`` (writes from other processes: the CLI, other
workers, other hosts). One look is one cheap query (the log's head); the handoff's
history is read again only when the log has grown. The head is read before the
history, and a waiter is armed before the head is compared, so nothing recorded in
between is missed. The ledger's calls block, so each runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import anyio
from anyio import to_thread

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.domain.handoff import Handoff

__all__ = ["POLL_SECONDS", "Wakeups"]

POLL_SECONDS = 0.05
"""How often a waiting request looks at the log's head when nothing here woke it."""

Events = list[Handoff.Event]


class Wakeups:
    """The waiting requests of this process, woken whenever its ledger saves events."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        ledger.on_saved.append(self._saved)

    def _saved(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            # A loop that has closed has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    async def changes(
        self,
        handoff_id: UUID,
        seen: int,
        *,
        gone: Callable[[], Awaitable[bool]] | None = None,
        poll: float = POLL_SECONDS,
    ) -> AsyncIterator[Events]:
        """The handoff's whole history each time it has events past version ``seen``,
        until the caller stops iterating (or ``gone`` says the client left)."""
        ledger = self.ledger
        while True:
            # Armed before the head is read: a save after that read wakes this waiter.
            woken = asyncio.Event()
            waiter = (asyncio.get_running_loop(), woken)
            with self._lock:
                self._waiters.add(waiter)
            try:
                head, events = await to_thread.run_sync(
                    lambda: (ledger.head(), ledger.history(handoff_id))
                )
                if events[-1].originator_version > seen:
                    seen = events[-1].originator_version
                    yield events
                while True:
                    with anyio.move_on_after(poll):
                        await woken.wait()
                    if woken.is_set():
                        break  # this process saved an event
                    if gone is not None and await gone():
                        return
                    if await to_thread.run_sync(ledger.head) > head:
                        break  # another process did
            finally:
                with self._lock:
                    self._waiters.discard(waiter)
