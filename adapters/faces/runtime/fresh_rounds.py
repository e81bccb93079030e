"""One piece of work, shared by the threads that need it done after they asked.

Two things in ``handoff serve`` are needed by many request threads at once, and
each needs a run that *began after* it asked: a look at the store for new token
events (a revocation committed before the request must count), and a catch-up of
the queues view (an ``ack``'s own event, committed before it asks, must be in the
view it answers from). A run that began after a thread asked serves that thread,
so threads arriving together share one run: each waits for the run under way (it
began too early for them), then takes the next one, which the first of them runs
in its own thread. One run at a time, never in a thread of its own: no handoff
between threads, no poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["FreshRounds"]


class FreshRounds:
    """Runs ``work`` one round at a time for the threads that call :meth:`wait`."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.work = work
        self._cond = threading.Condition()
        self._running = False
        self._started = 0
        self._finished = 0
        """Rounds are numbered as they begin; this is the last one that ended well."""

    def wait(self, done: Callable[[], bool] | None = None) -> None:
        """Return once a round that began after this call has ended (running it, maybe).

        ``done``: what the caller needs, if it can tell: it is asked first and again
        after each round ends, and once it answers True no further round is waited
        for (a round begun *before* the call may have done the work already).

        If that round fails, its error is raised in the thread that ran it; the
        others go on to the next round.
        """
        if done is not None and done():
            return
        with self._cond:
            needed = self._started + 1  # the first round to begin from now on
            while self._finished < needed:
                if self._running:
                    self._cond.wait()
                    if done is not None and done():
                        return
                    continue
                self._running = True
                self._started += 1
                mine = self._started
                self._cond.release()
                try:
                    self.work()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._finished = mine
