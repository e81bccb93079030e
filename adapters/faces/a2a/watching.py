"""Following one handoff as it changes: what blocking sends and streams wait on.

A waiting request wakes when this process saves an event of its handoff (the
ledger's ``on_saved``: an ack or completion through this server's HTTP API, MCP or
A2A faces), which hands it the events saved: appended to the history it holds when
they follow on from it, with no read at all. Otherwise it looks every
``POLL_SECONDS`` (writes from other processes: the CLI, other workers, other hosts):
one cheap query (the log's head); the handoff's history is read again only when the
log has grown. The head is read before the history, and a waiter is armed before the
head is compared, so nothing recorded in between is missed. The ledger's calls
block, so each runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import anyio
from anyio import to_thread

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.domain.handoff import Handoff

__all__ = ["POLL_SECONDS", "Wakeups"]

POLL_SECONDS = 0.05
"""How often a waiting request looks at the log's head when nothing here woke it."""

Events = list[Handoff.Event]


class _Waiter:
    """One waiting request: its loop, what wakes it, its handoff, the events saved."""

    __slots__ = ("handoff_id", "loop", "saved", "woken")

    def __init__(self, handoff_id: UUID) -> None:
        self.handoff_id = handoff_id
        self.loop = asyncio.get_running_loop()
        self.woken = asyncio.Event()
        self.saved: Events = []


class Wakeups:
    """The waiting requests of this process, woken when its ledger saves their events."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._waiters: set[_Waiter] = set()
        self._lock = threading.Lock()
        ledger.on_saved.append(self._saved)

    def _saved(self, events: Sequence[Any]) -> None:
        ids = {event.originator_id for event in events}
        with self._lock:
            waiters = [waiter for waiter in self._waiters if waiter.handoff_id in ids]
            for waiter in waiters:
                waiter.saved.extend(e for e in events if e.originator_id == waiter.handoff_id)
        for waiter in waiters:
            # A loop that has closed has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                waiter.loop.call_soon_threadsafe(waiter.woken.set)

    async def changes(
        self,
        handoff_id: UUID,
        seen: int,
        *,
        known: Events | None = None,
        gone: Callable[[], Awaitable[bool]] | None = None,
        poll: float = POLL_SECONDS,
    ) -> AsyncIterator[Events]:
        """The handoff's whole history each time it has events past version ``seen``,
        until the caller stops iterating (or ``gone`` says the client left).

        ``known``: its history up to ``seen``, if the caller holds it: the first look
        then reads only the log's head, and this process's saves extend it in memory.
        """
        ledger = self.ledger
        events = known if known and known[-1].originator_version == seen else None
        while True:
            # Armed before the head is read: a save after that read wakes this waiter.
            waiter = _Waiter(handoff_id)
            with self._lock:
                self._waiters.add(waiter)
            try:
                current: Events
                if events is None:
                    head, current = await to_thread.run_sync(
                        lambda: (ledger.head(), ledger.history(handoff_id))
                    )
                else:
                    head, current = await to_thread.run_sync(ledger.head), events
                if current[-1].originator_version > seen:
                    seen = current[-1].originator_version
                    yield current
                while True:
                    with anyio.move_on_after(poll):
                        await waiter.woken.wait()
                    if waiter.woken.is_set():
                        break  # this process saved an event of this handoff
                    if gone is not None and await gone():
                        return
                    if await to_thread.run_sync(ledger.head) > head:
                        break  # another process may have
            finally:
                with self._lock:
                    self._waiters.discard(waiter)
            events = _extended(current, waiter.saved)


def _extended(events: Events, saved: Events) -> Events | None:
    """``events`` with ``saved`` after them if they follow on version by version, else
    None (read the history again: another process wrote in between, or nothing here)."""
    if not saved:
        return None
    version = events[-1].originator_version
    for event in saved:
        if event.originator_version != version + 1:
            return None
        version += 1
    return [*events, *saved]
