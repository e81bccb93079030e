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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.documents import handoff_document
from handoff_ledger.adapters.services.vocabulary import NextDocument
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import LogListener
from handoff_ledger.domain.errors import InvalidTransition, NotPermitted, UnknownHandoff
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import us

__all__ = [
    "DEFAULT_NEXT_UPDATE",
    "DEFAULT_WORKER",
    "SCAN",
    "Fresh",
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
    read = fresh().read
    for row in read.held(agent, worker):
        if row["state"] == "blocked":
            continue  # stuck or needing help: it waits for an answer, not for a rerun
        handoff = _get(ledger, row["handoff_id"])
        if handoff is not None and handoff.is_open and handoff.worker == worker:
            return Taken(handoff, "resumed")
    for row in read.requested(agent, SCAN):
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
