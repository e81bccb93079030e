"""The queues view kept current for ``ack`` answers, woken by the acks that wait for it.

An ``ack`` answers with the handoff's queue position, read from the queues view
once the view includes the ack's own event (so it equals what ``inbox`` says right
after). The view has one writer in ``handoff serve``, this follower, so request
threads never fight over its batches. Before, it was woken by every write in the
log (PostgreSQL NOTIFY) and each waiting ack polled the tracking table every 2 ms:
some twenty statements per lifecycle for nobody. Now an ack in this process says
which position it needs and sleeps on a condition; the follower runs one round
(one catch-up) for every ack waiting at that moment, and tells them all when the
round is done. Without waiters it still catches up every ``idle`` seconds when the
log has moved (events other processes wrote).
"""

from __future__ import annotations

import logging
import threading

from handoff_ledger.adapters.views import Views

__all__ = ["QueueFollower"]

log = logging.getLogger(__name__)


class QueueFollower:
    """One thread that keeps a queues-only ``Views`` current on demand."""

    def __init__(self, views: Views, *, idle: float = 0.25) -> None:
        self.views = views
        self.idle = idle
        self._cond = threading.Condition()
        self._reached = 0
        """The view includes every event up to this log position."""
        self._wanted = 0
        """The furthest position an ack is waiting for."""

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the view includes log ``position``; False after ``timeout`` seconds."""
        with self._cond:
            if self._reached >= position:
                return True
            self._wanted = max(self._wanted, position)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._reached >= position, timeout)

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set: a round per batch of waiting acks, or when idle."""
        seen = -1
        while not stop.is_set():
            with self._cond:
                self._cond.wait_for(
                    lambda: self._wanted > self._reached or stop.is_set(), self.idle
                )
                wanted = self._wanted
            try:
                if wanted > self._reached:
                    # Positions are committed in order: every event up to the one an
                    # ack waits for is in the log before this catch-up begins.
                    self.views.catch_up()
                    reached = wanted
                else:  # idle: follow what other processes wrote, if anything
                    reached = self.views.ledger.recorder.max_notification_id() or 0
                    if reached != seen:
                        self.views.catch_up()
                        seen = reached
            except Exception:  # a dropped connection: waiters time out and catch up alone
                log.exception("views: the queues follower failed; trying again")
                stop.wait(0.2)
                continue
            with self._cond:
                self._reached = max(self._reached, reached)
                self._cond.notify_all()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run :meth:`run` on a daemon thread of its own."""
        thread = threading.Thread(target=self.run, args=(stop,), name="queues-follower")
        thread.daemon = True
        thread.start()
        return thread
