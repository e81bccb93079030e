"""How a serving process keeps its views following the log, chosen once where it is built.

Two questions have one answer per kind of process: who applies the views as the log
grows, and how an ``ack`` gets a queues view that holds its own event (the queue
position it answers from). Each kind of process is one strategy:

- :class:`FollowInChild`: ``handoff serve`` (one process). A child process follows the
  views and catches the queues up when an ``ack`` asks; if it does not answer in
  ``QUEUE_WAIT``, the request catches the view up itself.
- :class:`FollowInThreads`: embedding and tests. Threads follow the other views; the
  acks of this process catch the queues up, sharing one catch-up begun after they
  asked (:class:`FreshRounds`).
- :class:`FollowForWorkers`: the supervisor of ``serve --workers N``, whose acks are
  in other processes: the queues are followed at every write, the others let writes
  settle (in a child process or a thread).
- :class:`WaitForFollower`: a worker of ``serve --workers N`` (and the default): no
  follower of its own; an ``ack`` polls the view's position for ``QUEUE_WAIT``
  seconds, then catches the view up itself.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from handoff_ledger.adapters.faces.runtime.fresh_rounds import FreshRounds
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.follower import FollowerProcess, follow_until

__all__ = [
    "FOLLOW_SETTLE",
    "ON_REQUEST",
    "QUEUE_POLL",
    "QUEUE_WAIT",
    "FollowForWorkers",
    "FollowInChild",
    "FollowInThreads",
    "Following",
    "Service",
    "WaitForFollower",
]

FOLLOW_SETTLE = 0.25
"""Seconds the follower lets writes accumulate before applying them as one batch."""
QUEUE_WAIT = 2.0
"""How long an ``ack`` waits for a follower to reach its event before catching the
queues view up itself."""
ON_REQUEST = ("queues", "work")
"""The views :class:`FollowInChild`'s child applies when asked, not as writes settle."""
QUEUE_POLL = 0.005
"""How often the queues follower of ``serve --workers N`` looks for new events where it
cannot LISTEN (SQLite), and how often a worker's ``ack`` looks at the view's position."""


class Service(Protocol):
    """What a strategy needs of the service it serves (:class:`.service.Service`)."""

    ledger: Ledger
    queue_view: Views
    """The queues view alone: what ``ack`` answers its queue position from."""
    followed: Views
    """Every other view."""
    queue_lock: threading.Lock
    """Held by a request that catches the queues view up itself."""
    work_view: Views
    """The queues and work views: what taking work (``next``) reads."""
    work_lock: threading.Lock
    """Held by a request that catches the work views up itself."""


class Following(Protocol):
    """Who keeps a serving process's views current, and how an ``ack`` waits for them."""

    def start(self, service: Service, stop: threading.Event) -> threading.Thread:
        """Keep the views following the log until ``stop``; returns the thread to join."""
        ...

    def queues_at(self, service: Service, position: int) -> Views:
        """The queues view once it has applied log ``position``."""
        ...

    def work_at(self, service: Service, position: int) -> Views:
        """The queues and work views once they have applied log ``position``."""
        ...


def _catch_up_here(service: Service) -> Views:
    with service.queue_lock:
        service.queue_view.catch_up()
    return service.queue_view


def _catch_up_work_here(service: Service) -> Views:
    with service.work_lock:
        service.work_view.catch_up()
    return service.work_view


def _follow_in_thread(
    views: Views, stop: threading.Event, name: str, **how: float
) -> threading.Thread:
    thread = threading.Thread(
        target=follow_until, args=(views, stop), kwargs=how, name=name, daemon=True
    )
    thread.start()
    return thread


class WaitForFollower:
    """No follower here: an ``ack`` waits for another process's, then catches up itself."""

    def start(self, service: Service, stop: threading.Event) -> threading.Thread:
        """Nothing to follow from here: a thread that ends at once."""
        thread = threading.Thread(target=lambda: None, name="no-follower", daemon=True)
        thread.start()
        return thread

    def queues_at(self, service: Service, position: int) -> Views:
        """Poll the view's position for ``QUEUE_WAIT`` seconds, then catch up here."""
        deadline = time.monotonic() + QUEUE_WAIT
        while time.monotonic() < deadline:
            if service.queue_view.store.positions(["queues"])["queues"] >= position:
                return service.queue_view
            time.sleep(0.002)
        return _catch_up_here(service)

    def work_at(self, service: Service, position: int) -> Views:
        """Caught up here (no follower of this process applies them at every write)."""
        return _catch_up_work_here(service)


class FollowInThreads:
    """Threads follow the other views; this process's acks catch the queues up together."""

    def __init__(self) -> None:
        self._rounds: FreshRounds | None = None
        self._lock = threading.Lock()

    def start(self, service: Service, stop: threading.Event) -> threading.Thread:
        """Follow every view but the queues in a thread, letting writes settle."""
        self._rounds_for(service)
        return _follow_in_thread(
            service.followed, stop, "views-follower", settle=FOLLOW_SETTLE, poll_interval=0.1
        )

    def queues_at(self, service: Service, position: int) -> Views:
        """A catch-up begun after the ack asked, shared with the acks asking at once, or
        none if a round that ended meanwhile took the view past ``position``."""
        runner = service.queue_view.runner
        self._rounds_for(service).wait(done=lambda: runner.reached >= position)
        return service.queue_view

    def work_at(self, service: Service, position: int) -> Views:
        """Caught up here, one request at a time."""
        return _catch_up_work_here(service)

    @property
    def rounds(self) -> FreshRounds | None:
        """The acks' shared catch-ups, once started or first asked for."""
        return self._rounds

    def _rounds_for(self, service: Service) -> FreshRounds:
        with self._lock:
            if self._rounds is None:
                self._rounds = FreshRounds(service.queue_view.catch_up)
            return self._rounds


class FollowInChild:
    """A child process follows the views and catches the queues up for this process's acks."""

    def __init__(self) -> None:
        self._child: FollowerProcess | None = None

    def start(self, service: Service, stop: threading.Event) -> threading.Thread:
        """Start the supervised child (:class:`FollowerProcess`): it follows the views
        with writes settling, but the queues and work views, which it catches up when
        this process asks (acks, ``next``)."""
        names = [p.name for p in service.followed.projections if p.name not in ON_REQUEST]
        self._child = FollowerProcess(
            service.ledger, names, settle=FOLLOW_SETTLE, on_request=list(ON_REQUEST)
        )
        return self._child.run(stop)

    @property
    def child(self) -> FollowerProcess | None:
        """The supervised child, once started."""
        return self._child

    def queues_at(self, service: Service, position: int) -> Views:
        """Ask the child (:meth:`FollowerProcess.caught_up`); catch up here if it does
        not answer in ``QUEUE_WAIT`` seconds."""
        if self._child is None or not self._child.caught_up(position, QUEUE_WAIT):
            return _catch_up_here(service)
        return service.queue_view

    def work_at(self, service: Service, position: int) -> Views:
        """Ask the child, as :meth:`queues_at` does: one catch-up round in the child
        serves every request that asked meanwhile, and no request writes a view."""
        if self._child is None or not self._child.caught_up(position, QUEUE_WAIT):
            return _catch_up_work_here(service)
        return service.work_view


class FollowForWorkers(WaitForFollower):
    """The supervisor of worker processes: the queues at every write, the rest settled."""

    def __init__(self, *, in_child: bool = True) -> None:
        self.in_child = in_child

    def start(self, service: Service, stop: threading.Event) -> threading.Thread:
        """A thread follows the queues with no settling; the other views are followed
        by a child process (``in_child``) or a thread, letting writes settle."""
        _follow_in_thread(
            service.queue_view, stop, "queues-follower", settle=0.0, poll_interval=QUEUE_POLL
        )
        if self.in_child:
            names = [p.name for p in service.followed.projections]
            child = FollowerProcess(service.ledger, names, settle=FOLLOW_SETTLE, on_request=None)
            return child.run(stop)
        return _follow_in_thread(
            service.followed, stop, "views-follower", settle=FOLLOW_SETTLE, poll_interval=0.1
        )
