"""Taking work: the next handoff for one of an agent's workers, and waiting for one.

The order ``handoff next`` (and ``GET /agents/{name}/next``, MCP ``wait_for_handoff``,
the client's ``work``) takes work in, which is what makes "never dropped" and
"never twice" hold together:

1. **its own unfinished work first**: a handoff this worker took and has not
   finished is returned again (``resumed``), so a worker that restarts picks up
   where it was and never runs a finished handoff again (one it reported ``stuck``
   or ``need_help`` waits for a reply, which puts it back in progress);
2. **the head of the queue** among handoffs nobody took (``requested``), acked in the
   same step with the worker's id; two workers racing for it: one ack wins, the other
   is "already acked", a loss, and goes on to the next one;
3. **another worker's handoff whose update promise is overdue** (``taken_over``; never
   a blocked one, which waits for a reply): that worker stopped keeping its promise
   (it was escalated as any broken promise is);
   the take-over is recorded (``TakenOver``) and the new worker owes the next update.

A worker id is chosen by the client and stays the same across its restarts.

Takes that run at once in one process spread over the queue's head: the Nth take in
flight for an agent tries the Nth requested row first (then the rows before it, in
order), and a row this process saw taken a moment ago is not tried again while the
views have not caught up with that take. Eight workers asking together then try eight
handoffs, not eight times the same one. Every other row is still tried in the end;
the queue's order holds for takes that do not overlap. (A handoff reassigned back to
this agent within seconds of its take here waits out those seconds.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.documents import handoff_document
from handoff_ledger.adapters.services.vocabulary import NextDocument
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.listener import LogListener
from handoff_ledger.domain.errors import InvalidTransition, NotPermitted, UnknownHandoff
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import us

__all__ = [
    "DEFAULT_NEXT_UPDATE",
    "DEFAULT_WORKER",
    "SCAN",
    "Fresh",
    "SaveWaker",
    "Taken",
    "log_waker",
    "next_document",
    "take_next",
    "wait_for_next",
]

Fresh = Callable[[], Views]
"""Gives the views caught up to the log (a server's follower, or a catch-up here)."""

DEFAULT_NEXT_UPDATE = timedelta(minutes=15)
"""The update promise of a taken handoff when neither the taker nor its kind names one:
without a promise, a worker that died would hold its work until the deadline."""

DEFAULT_WORKER = "main"
"""The worker id when the client names none: one worker per agent."""

SCAN = 20
"""How many candidates one take looks at before it answers "nothing"."""


RECENT = 5.0
"""Seconds a handoff this process saw taken is not tried again by its other takes
(the views catch up with a take well within this; after it, the view decides)."""


class _Spread:
    """Takes in flight per agent in this process, and the handoffs taken lately."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._taken: dict[str, float] = {}

    def enter(self, agent: str) -> int:
        """Count a take for ``agent``; returns how many were in flight before it."""
        with self._lock:
            before = self._in_flight.get(agent, 0)
            self._in_flight[agent] = before + 1
            return before

    def leave(self, agent: str) -> None:
        with self._lock:
            left = self._in_flight[agent] - 1
            if left:
                self._in_flight[agent] = left
            else:
                del self._in_flight[agent]

    def taken(self, handoff_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._taken[handoff_id] = now
            if len(self._taken) > 4096:  # forget what the views have long caught up with
                self._taken = {h: t for h, t in self._taken.items() if now - t < RECENT}

    def fresh(self, rows: list[Any], offset: int) -> list[Any]:
        """``rows`` not taken lately here, the ``offset``-th first (wrapping round)."""
        if offset and rows:  # turned first, so takes in flight keep distinct first tries
            offset %= len(rows)
            rows = rows[offset:] + rows[:offset]
        now = time.monotonic()
        with self._lock:
            return [r for r in rows if now - self._taken.get(r["handoff_id"], -RECENT) >= RECENT]


_spread = _Spread()


@dataclass(frozen=True)
class Taken:
    """A handoff a worker now holds, and how: ``resumed``, ``taken`` or ``taken_over``."""

    handoff: Handoff
    how: str


def next_document(taken: Taken) -> NextDocument:
    """A taken handoff as every face returns it: the handoff, how, by which worker."""
    handoff = taken.handoff
    return {**handoff_document(handoff), "taken": taken.how, "worker": handoff.worker or ""}


def take_next(
    ledger: Ledger,
    fresh: Fresh,
    *,
    agent: str,
    worker: str = DEFAULT_WORKER,
    eta: timedelta | None = None,
    next_update: timedelta | None = None,
) -> Taken | None:
    """The next handoff for ``worker`` of ``agent`` (see the module's order), or None."""
    offset = _spread.enter(agent)
    try:
        return _take_next(
            ledger,
            fresh,
            agent=agent,
            worker=worker,
            eta=eta,
            next_update=next_update,
            offset=offset,
        )
    finally:
        _spread.leave(agent)


def _take_next(
    ledger: Ledger,
    fresh: Fresh,
    *,
    agent: str,
    worker: str,
    eta: timedelta | None,
    next_update: timedelta | None,
    offset: int,
) -> Taken | None:
    read = fresh().read
    for row in read.held(agent, worker):
        if row["state"] == "blocked":
            continue  # stuck or needing help: it waits for an answer, not for a rerun
        handoff = _get(ledger, row["handoff_id"])
        if handoff is not None and handoff.is_open and handoff.worker == worker:
            return Taken(handoff, "resumed")
    for row in _spread.fresh(read.requested(agent, SCAN), offset):
        try:
            outcome = ledger.ack(
                UUID(row["handoff_id"]),
                by=agent,
                eta=eta,
                next_update=next_update,
                worker=worker,
                fallback_update=DEFAULT_NEXT_UPDATE,
            )
        except (InvalidTransition, NotPermitted, UnknownHandoff):
            continue  # closed or reassigned since the view was read
        _spread.taken(row["handoff_id"])  # by this take, or by another before it
        if outcome.recorded:
            return Taken(outcome.handoff, "taken")
    now_us = us(ledger.clock.now()) or 0
    for row in read.held_overdue(agent, now_us, SCAN):
        if row["worker"] == worker:
            continue
        try:
            handoff = ledger.take_over(
                UUID(row["handoff_id"]),
                by=agent,
                worker=worker,
                eta=eta,
                next_update=next_update or DEFAULT_NEXT_UPDATE,
            )
        except (InvalidTransition, NotPermitted, UnknownHandoff):
            continue  # its worker reported in time after all, or another took it over
        return Taken(handoff, "taken_over")
    return None


def wait_for_next(
    ledger: Ledger,
    fresh: Fresh,
    *,
    agent: str,
    wait: timedelta,
    worker: str = DEFAULT_WORKER,
    eta: timedelta | None = None,
    next_update: timedelta | None = None,
    poll: float = 0.1,
    wake: Callable[[float], None] | None = None,
) -> Taken | None:
    """:func:`take_next`, waiting up to ``wait`` (wall-clock time) for work to arrive.

    It looks again only when the log has grown (one cheap query per ``poll``, or
    sooner when ``wake``, which blocks up to the seconds it is given, returns early:
    a PostgreSQL LISTEN, see :func:`log_waker`), and once more when the wait ends: a
    handoff whose holder's promise falls overdue while it waits is taken over then.
    """
    deadline = time.monotonic() + wait.total_seconds()
    while True:
        head = ledger.head()
        taken = take_next(
            ledger, fresh, agent=agent, worker=worker, eta=eta, next_update=next_update
        )
        if taken is not None or time.monotonic() >= deadline:
            return taken
        while ledger.head() == head:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            (wake or time.sleep)(min(poll, left))
        if time.monotonic() >= deadline:
            return take_next(
                ledger, fresh, agent=agent, worker=worker, eta=eta, next_update=next_update
            )


def _get(ledger: Ledger, handoff_id: str) -> Handoff | None:
    try:
        return ledger.get(UUID(handoff_id))
    except UnknownHandoff:
        return None


def log_waker(ledger: Ledger) -> tuple[Callable[[float], None] | None, Callable[[], None]]:
    """A ``wake`` for :func:`wait_for_next` and its closer: on PostgreSQL one LISTEN
    connection that returns as soon as an event is stored; on SQLite none (poll)."""
    if "postgres" not in type(ledger.recorder).__module__:
        return None, lambda: None
    listener = LogListener(ledger)
    never = threading.Event()
    return (lambda seconds: listener.wait(timeout=seconds, stop=never)), listener.close


class SaveWaker:
    """A ``wake`` for :func:`wait_for_next` in a server: returns as soon as this
    process saves any event (a send through any of its faces), else after the seconds
    given, so a waiting take need not wait for its next look at the log's head."""

    def __init__(self, ledger: Ledger) -> None:
        self._saved = threading.Condition()
        self._count = 0
        ledger.on_saved.append(self._on_saved)

    def _on_saved(self, events: Sequence[Any]) -> None:
        with self._saved:
            self._count += 1
            self._saved.notify_all()

    def __call__(self, seconds: float) -> None:
        with self._saved:
            seen = self._count
            self._saved.wait_for(lambda: self._count != seen, timeout=seconds)
