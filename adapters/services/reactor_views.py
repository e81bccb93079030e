"""A running reactor's views, caught up by a child process while the reactor works.

A pass that escalates thousands of handoffs spends about as long catching its views
up on those escalations (reading them back, folding them into the timers, chains,
agents and notifications views, writing the rows) as it spends deciding and saving
them (docs/performance.md, "Reactor in batches"). In one interpreter the two run one
after the other: the views' work is Python, and Python holds one interpreter's lock.
In a child process they overlap on a second core: after each batch of steps is
saved, the reactor *nudges* the child, which catches the views up on it while the
reactor decides and saves the next; at the end of a round the reactor catches up the
timers view itself (``HERE``) and waits for the child to bring the others to the
log's head (what the next round's due steps and the pass's webhook deliveries read).

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

__all__ = ["WAIT", "ViewsAlongside", "views_alongside"]

WAIT = 60.0
"""Seconds a round waits for the child before catching the views up itself. Long: a
child that is alive and working is faster than starting over here; a dead child
stops the wait at once."""


HERE = ("timers",)
"""Views the reactor catches up itself at the end of a round, while the child finishes
the others: the timers view is what the next round reads its due steps from, and
one of the two costliest to project an escalation into (the notifications view is the
other); with it here, both processes work at the round's end instead of one waiting."""


class ViewsAlongside:
    """A child process that catches ``views`` (but ``here``) up when nudged (see the
    module); ``here`` are caught up in this process at the end of a round."""

    def __init__(self, ledger: Ledger, views: Views, here: tuple[str, ...] = HERE) -> None:
        self.ledger = ledger
        self.views = views
        self.here = Views(ledger, [p for p in views.projections if p.name in here])
        names = [p.name for p in views.projections if p.name not in here]
        self._stop = threading.Event()
        self.follower = FollowerProcess(ledger, [], settle=0.0, on_request=names)
        self._supervisor = self.follower.run(self._stop)

    def nudge(self) -> None:
        """Ask the child to catch up to the log's head now; do not wait for it."""
        self.follower.ask()

    def catch_up(self) -> None:
        """Every view at the log's head: ``here`` by this process, the others by the
        child, or by this process too if the child cannot."""
        head = self.ledger.head()
        if self.here.projections:
            self.here.runner.catch_up()
        if not self.follower.caught_up(head, WAIT):
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
