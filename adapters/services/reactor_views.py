"""A running reactor's views, caught up by a child process while the reactor works.

A pass that escalates thousands of handoffs spends about as long catching its views
up on those escalations (reading them back, folding them into the timers, chains,
agents and notifications views, writing the rows) as it spends deciding and saving
them (docs/performance.md, "Reactor in batches"). In one interpreter the two run one
after the other: the views' work is Python, and Python holds one interpreter's lock.
In a child process they overlap on a second core: after each batch of steps is
saved, the reactor *nudges* the child, which catches the views up on it while the
reactor decides and saves the next. At the end of a short round (fewer than
``ALL_FROM`` batches) the reactor catches up the timers view itself (``HERE``) while
the child brings the others to the log's head (what the next round's due steps and
the pass's webhook deliveries read): both processes work on the round's last batch.
In a longer round the child takes the timers view too from the ``ALL_FROM``-th batch
on, so the round's end waits only for the child's last batch, not for this process
to project the whole round into the timers view (about a quarter of a second for
10,000 steps; docs/performance.md, "Reactor in batches").

It is :class:`~handoff_ledger.adapters.views.follower.FollowerProcess` (what
``handoff serve`` runs), asked for every view on request and following nothing
between requests. The child applies the views exactly as this process would: each
view's tracking record moves by compare-and-set in the transaction that writes its
rows, so a catch-up here and one there never apply an event twice. If the child
dies, or does not answer within ``WAIT`` seconds, the reactor catches the views up
itself, and the child's supervisor starts another.

Only for a reactor that keeps running (``handoff reactor`` without ``--once``: a
child costs an interpreter's start, about a second) on PostgreSQL (SQLite admits one
writer at a time: the child's view writes would wait for the reactor's saves, and
the reactor's for them), on a host with two cores or more. The overlap needs a core
to spare: with another process busy on one of two cores, a pass of 10,000 steps took
1.05-1.2x its time with the views in the reactor's process (the child reads and
decodes the events again, and the two wait on each other's messages); hence
``handoff reactor --views-here``.
"""

from __future__ import annotations

import os
import threading

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.follower import FollowerProcess

__all__ = ["ALL_FROM", "WAIT", "ViewsAlongside", "views_alongside"]

WAIT = 60.0
"""Seconds a round waits for the child before catching the views up itself. Long: a
child that is alive and working is faster than starting over here; a dead child
stops the wait at once."""


ALL_FROM = 3
"""The batch of a round from which the child catches up every view, ``HERE``
included (measured: docs/performance.md, "Reactor in batches")."""


HERE = ("timers",)
"""Views the reactor catches up itself at the end of a short round, while the child
finishes the others: the timers view is what the next round reads its due steps from,
and one of the two costliest to project an escalation into (the notifications view is
the other); with it here, both processes work at the round's end instead of one
waiting."""


class ViewsAlongside:
    """A child process that catches ``views`` up when nudged (see the module); in a
    round of fewer than ``ALL_FROM`` batches, ``here`` are caught up in this process
    at the round's end instead."""

    def __init__(self, ledger: Ledger, views: Views, here: tuple[str, ...] = HERE) -> None:
        self.ledger = ledger
        self.views = views
        self.here = Views(ledger, [p for p in views.projections if p.name in here])
        self.rest = [p.name for p in views.projections if p.name not in here]
        """The views the child catches up in every round."""
        self.batches = 0
        """Batches nudged since the last catch-up (this round's so far)."""
        self.all_from = ALL_FROM
        self._stop = threading.Event()
        every = [p.name for p in views.projections]
        self.follower = FollowerProcess(ledger, [], settle=0.0, on_request=every)
        self._supervisor = self.follower.run(self._stop)

    def nudge(self) -> None:
        """Ask the child to catch up to the log's head now; do not wait for it.

        From the round's ``ALL_FROM``-th batch on, the child catches up every view,
        ``here`` included: a long round's end then waits only for the child's last
        batch, not for this process to project the whole round into ``here``."""
        self.batches += 1
        self.follower.ask(None if self.batches >= self.all_from else self.rest)

    def catch_up(self) -> None:
        """Every view at the log's head: after a long round, by the child; else
        ``here`` by this process and the others by the child; by this process if the
        child cannot."""
        head = self.ledger.head()
        long_round, self.batches = self.batches >= self.all_from, 0
        if long_round:
            served = self.follower.caught_up(head, WAIT)
        else:
            if self.here.projections:
                self.here.runner.catch_up()
            served = self.follower.caught_up(head, WAIT, self.rest)
        if not served:
            self.views.runner.catch_up()

    def close(self) -> None:
        """Stop the child (its supervisor waits for it to exit)."""
        self._stop.set()
        self._supervisor.join(timeout=15)


def views_alongside(ledger: Ledger, views: Views) -> ViewsAlongside | None:
    """A :class:`ViewsAlongside` for ``views`` where it can pay (PostgreSQL, and this
    process may run on two cores or more), else None."""
    if views.store.dialect.backend != "postgresql" or len(os.sched_getaffinity(0)) < 2:
        return None
    return ViewsAlongside(ledger, views)
