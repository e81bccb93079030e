"""Views kept following the log by a child process, supervised by the process it serves.

Why a process: ``handoff serve`` answers requests on one Python interpreter. A view
batch holds its GIL for milliseconds at a time (folding events, building rows), and
every request waiting behind it waits that long; on PostgreSQL at 8 clients this put
the p99 at half load at 24-109 ms with the follower as a thread, 19-28 ms with it in
a child process (docs/performance.md). The views are independent of the requests:
each has its own tracking record, so another process may apply them.

The child follows exactly as a follower thread would (``Views.run_forever``) and
stops when the pipe from its parent closes: the parent closes it to stop the child,
and the kernel closes it when the parent dies (a ``SIGKILL`` of ``serve`` leaves no
orphan writing views). A pipe, not a ``multiprocessing.Event``: an event's lock held
by a child killed at the wrong moment stays held, and the next ``set()`` hangs. A
child that dies is started again by its supervisor thread; a batch it was writing
when it died is rolled back with its tracking record and applied again from the log.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from handoff_ledger.adapters.ledger import Ledger
from handoff_ledger.projections.registry import all_projections

if TYPE_CHECKING:
    from handoff_ledger.adapters.views.service import Views

__all__ = ["FollowerProcess", "follow_until"]

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0
"""Seconds between a child's death and its replacement."""


class FollowerProcess:
    """A child process following the log for the named views, restarted if it dies."""

    def __init__(
        self, ledger: Ledger, names: list[str], *, settle: float, poll_interval: float = 0.1
    ) -> None:
        self._env = {key: str(value) for key, value in ledger.env.items()}
        self._names = list(names)
        self._settle = settle
        self._poll = poll_interval
        self._context = multiprocessing.get_context("spawn")
        self._lifeline: Connection | None = None
        """Our end of the running child's pipe: closing it stops the child."""
        self.child: Any = None
        """The running child (a ``multiprocessing`` process), for tests and status."""
        self.starts = 0
        """How many children were started (1 + restarts)."""

    def run(self, stop: threading.Event) -> threading.Thread:
        """Start the child, and a thread that restarts it until ``stop``, then stops it."""
        self._start_child()
        supervisor = threading.Thread(
            target=self._supervise, args=(stop,), name="views-follower-supervisor", daemon=True
        )
        supervisor.start()
        return supervisor

    def _start_child(self) -> None:
        theirs, ours = self._context.Pipe(duplex=False)
        self.child = self._context.Process(
            target=_follow,
            args=(self._env, self._names, self._settle, self._poll, theirs),
            name="handoff-views-follower",
            daemon=True,
        )
        self.child.start()
        theirs.close()  # the child holds the only reading end now
        self._lifeline = ours
        self.starts += 1

    def _stop_child(self) -> None:
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def _supervise(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.child.join(timeout=0.2)
            if self.child.exitcode is None or stop.is_set():
                continue
            log.warning(
                "views: the follower process exited (code %s); starting another",
                self.child.exitcode,
            )
            self._stop_child()
            if stop.wait(RESTART_AFTER):
                break
            self._start_child()
        self._stop_child()
        self.child.join(timeout=10)
        if self.child.exitcode is None:
            self.child.kill()
            self.child.join(timeout=5)


def _follow(
    env: dict[str, str], names: list[str], settle: float, poll_interval: float, lifeline: Connection
) -> None:
    """The child: follow the log for ``names`` until the pipe from the parent closes.

    Ctrl-C in a terminal reaches the whole process group: the parent decides when
    the child stops, so the child ignores it (no second traceback, no early stop).
    """
    from handoff_ledger.adapters.views.service import Views

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    stop = threading.Event()

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()  # nothing is ever sent: this returns when the pipe closes
        stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    ledger = Ledger(env=env)
    try:
        views = Views(ledger, [p for p in all_projections() if p.name in names])
        follow_until(views, stop, settle=settle, poll_interval=poll_interval)
    finally:
        ledger.close()


def follow_until(
    views: Views, stop: threading.Event, *, settle: float, poll_interval: float
) -> None:
    """Follow the log until ``stop``, starting again a second after any failure.

    What every follower runs, thread or child process: ``run_forever`` survives lost
    connections itself; anything else is logged, and the follower carries on.
    """
    while not stop.is_set():
        try:
            views.run_forever(stop, poll_interval=poll_interval, settle=settle)
        except Exception:
            log.exception("views: the follower stopped; restarting it")
            stop.wait(1.0)
