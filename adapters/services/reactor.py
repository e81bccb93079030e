"""The reactor: makes the protocol hold while nobody watches.

One pass (``run_once``) catches the views up, escalates every timer that fell due
and was not escalated yet, and turns completions (and declines) into the next
handoff of their chain. Every effect is idempotent, so any number of reactors may
run at once and any of them may be killed at any instruction:

- an escalation goes through the aggregate, which refuses a second escalation of
  the same timer at the same level (and one of a promise since kept);
- a follow-up is sent with an idempotency key derived from the event that caused
  it, so a replayed completion finds the follow-up it already created;
- the reactor's own position in the log is a tracking record moved by
  compare-and-set after the follow-ups of a batch exist, so a crash only means the
  batch is looked at again.

Escalations follow the policy of the protocol version each handoff was created
under (``handoff_ledger.domain.escalation``): ordered levels that notify,
re-notify and reassign to a backup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, PersistenceError

from handoff_ledger.adapters.ledger.application import DueStep, Ledger
from handoff_ledger.adapters.services.follow_ups import (
    CLOSINGS,
    follow_up_key,
    follow_up_receiver,
    follow_up_route,
    map_payload,
)
from handoff_ledger.adapters.services.reactor_passes import ReactorPasses
from handoff_ledger.adapters.services.reactor_probe import IdleProbe
from handoff_ledger.adapters.services.reactor_views import views_alongside
from handoff_ledger.adapters.services.webhooks import Attempt, Deliveries
from handoff_ledger.adapters.store.loading import load_handoffs
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.runner import gc_paused
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.base import from_us, us

__all__ = ["REACTOR", "PassReport", "Reactor"]

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0
"""Seconds an in-process reactor (:meth:`Reactor.run_in_thread`) waits after a failed pass."""

REACTOR = "reactor"
"""The agent name the reactor acts as (it appears as ``by`` in the log)."""

FOLLOW_UP_TRACKING = "reactor.follow_ups"
BATCH = 500
MAX_ROUNDS = 1000


@dataclass
class Batch:
    """A page of due steps (one per handoff), their handoffs, and where the next
    page starts (None: this was the last)."""

    steps: list[DueStep]
    loaded: dict[UUID, Handoff]
    after: dict[str, Any] | None


@dataclass
class PassReport:
    """What one reactor pass did."""

    escalated: list[tuple[str, str]] = field(default_factory=list)
    steps: list[DueStep] = field(default_factory=list)
    deliveries: list[Attempt] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    """Handoffs whose follow-up could not be created, noted on them (once)."""


class Reactor:
    """Fires due timers and routes follow-ups for one ledger."""

    def __init__(
        self,
        ledger: Ledger,
        views: Views | None = None,
        deliveries: Deliveries | None = None,
        *,
        views_in_child: bool = False,
    ) -> None:
        """``views_in_child``: catch the views up in a child process while this one
        fires the steps (``reactor_views.py``; PostgreSQL only, else ignored): for a
        reactor that keeps running. :meth:`close` stops the child."""
        self.ledger = ledger
        self.views = views or Views(ledger)
        self.alongside = views_alongside(ledger, self.views) if views_in_child else None
        self.deliveries = deliveries or Deliveries(ledger, self.views)
        self.passes = ReactorPasses(ledger, self.views.store)
        self.decoder = EventDecoder(ledger.mapper)
        """Decodes the batches' stored events (the mapper's events, faster)."""
        tracked = [self.views.runner.tracking_name(p) for p in self.views.projections]
        self.probe = IdleProbe(ledger, self.views, self.deliveries, [*tracked, FOLLOW_UP_TRACKING])

    def close(self) -> None:
        """Write the idle passes yet unwritten; release the webhook client; stop the
        views' child, if any."""
        try:
            self.passes.flush()
        except PersistenceError as error:  # a store gone: only metrics are lost
            log.warning("reactor: the last passes' figures were not written (%s)", error)
        self.deliveries.close()
        if self.alongside is not None:
            self.alongside.close()

    def catch_up_views(self, *, analyze: bool = True) -> None:
        """The views at the log's head: by the child (``views_in_child``), else here.

        ``analyze=False``: without the planner statistics' refresh that
        ``Views.catch_up`` adds after 10,000 events (the child, catching up a few
        batches at a time, rarely reaches it).
        """
        if self.alongside is not None:
            self.alongside.catch_up()
        elif analyze:
            self.views.catch_up()
        else:
            self.views.runner.catch_up()

    def run_once(self) -> PassReport:
        """One pass: catch up, escalate what fell due, create follow-ups, push webhooks."""
        started = time.perf_counter()
        report = PassReport()
        if self.probe.idle():  # one read: nothing new, nothing due (reactor_probe.py)
            # Written with a later pass, or within seconds (reactor_passes.py).
            self.passes.record(time.perf_counter() - started, idle=True)
            return report
        self.catch_up_views()
        # Millions of short-lived objects, none in cycles: collecting would only
        # traverse them (6 % of a 10,000-step pass's CPU, docs/performance.md).
        with gc_paused():
            self.fire_due_timers(report)
        self.route_follow_ups(report)
        if report.follow_ups or report.notes:
            # So the follow-ups' broadcasts go out in this pass (the escalations' were
            # projected by the round that recorded them, in ``fire_due_timers``).
            self.catch_up_views()
        report.deliveries = self.deliveries.run_once()
        self.probe.ran()
        # For /metrics (docs/metrics.md), and so `handoff serve` knows a reactor runs.
        self.passes.record(time.perf_counter() - started)
        return report

    def run_forever(
        self,
        stop: threading.Event,
        interval: float = 1.0,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> None:
        """Pass after pass until ``stop`` is set (SIGTERM/SIGINT set it in the CLI).

        A pass waits less than ``interval`` when a timer falls due sooner, so an
        escalation goes out within a few milliseconds of its due time.
        """
        while not stop.is_set():
            try:
                report = self.run_once()
            except HandoffError as error:  # a bad protocol entry must not stop the reactor
                log.warning("reactor: %s", error.message)
            else:
                if on_pass is not None:
                    on_pass(report)
            stop.wait(self._sleep_for(interval))

    def run_in_thread(
        self,
        stop: threading.Event,
        interval: float = 1.0,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> threading.Thread:
        """:meth:`run_forever` in a daemon thread (``serve --with-reactor``), which outlives
        a failed pass (a dropped connection, a store briefly away): it logs it and tries
        again after ``interval``, until ``stop``; it releases its connections when done.

        Exactly once holds beside other reactors as it does between reactor processes:
        each step and follow-up is recorded under an optimistic check, and a lost race
        is the other reactor's step.
        """

        def run() -> None:
            try:
                while not stop.is_set():
                    try:
                        self.run_forever(stop, interval=interval, on_pass=on_pass)
                    except Exception:
                        log.exception("reactor: a pass failed; trying again")
                        stop.wait(max(interval, RESTART_PAUSE))
            finally:
                self.close()

        thread = threading.Thread(target=run, name="reactor", daemon=True)
        thread.start()
        return thread

    def _sleep_for(self, interval: float) -> float:
        """Seconds until the next pass: ``interval``, or sooner if a step falls due."""
        upcoming = self.views.read.next_step_due()
        if upcoming is None:
            return interval
        now = us(self.ledger.clock.now()) or 0
        return max(0.0, min(interval, (upcoming - now) / 1_000_000))

    # ------------------------------------------------------------------ timers

    def fire_due_timers(self, report: PassReport) -> None:
        """Take every escalation step that is due, in order, until none is.

        A round reads the due steps from the timers view a batch at a time, loads
        each batch's handoffs in one query (``store/loading.py``) and saves its steps
        in one transaction (``Ledger.fire_escalations``, which retries them one at a
        time if the transaction conflicts). The views catch up once per round, not
        per batch: a round's later batches are read past the earlier ones (keyset),
        so they need not wait for them to be projected.

        Batches are pipelined: while this thread decides and saves one, a loader
        thread reads the next page of due steps and loads its handoffs (the database's
        time overlaps this thread's Python work). A handoff of the next batch that this
        one also escalated was loaded before that save: it is loaded again, so the
        next save starts from its recorded version (a stale copy would only conflict,
        never escalate twice: each save is checked against the recorded version).

        A step that falls due because the one before it fired (a reactor back from
        downtime, catching up on a policy's levels) is taken in the next round of the
        same pass.
        """
        loader: ThreadPoolExecutor | None = None
        try:
            for _ in range(MAX_ROUNDS):
                now_us = us(self.ledger.clock.now()) or 0
                fired = 0
                batch = self._next_batch(now_us, None)
                while batch is not None:
                    ahead: Future[Batch | None] | None = None
                    if batch.after is not None:
                        if loader is None:
                            loader = ThreadPoolExecutor(1, thread_name_prefix="reactor-load")
                        ahead = loader.submit(self._next_batch, now_us, batch.after)
                    fired += self._fire_batch(batch.steps, report, batch.loaded)
                    following = None if ahead is None else ahead.result()
                    if following is not None:
                        self._reload_saved(following, batch)
                    batch = following
                if not fired:
                    return
                # The runner's catch-up, without the planner statistics' refresh that
                # ``Views.catch_up`` adds after 10,000 events: the reactor's own steps
                # are updates of rows the statistics already count (PostgreSQL's
                # autovacuum refreshes them off this path), and before the batches a
                # round caught up 500 at a time, never reaching that refresh.
                self.catch_up_views(analyze=False)
        finally:
            if loader is not None:
                loader.shutdown(wait=True)

    def _next_batch(self, now_us: int, after: dict[str, Any] | None) -> Batch | None:
        """The page of due steps after ``after`` (keyset), with its handoffs loaded."""
        rows = self.views.read.due_steps(now_us, limit=BATCH, after=after)
        if not rows:
            return None
        # A handoff's second due step waits for the next batch (loaded afresh), so the
        # log keeps the steps in due order: one handoff's events would otherwise be
        # saved together, ahead of other handoffs' earlier steps.
        taken = distinct_handoffs(rows)
        steps = [due_step(r) for r in taken]
        last = len(rows) < BATCH and len(taken) == len(rows)
        return Batch(steps, self._load(steps), None if last else taken[-1])

    def _reload_saved(self, batch: Batch, saved: Batch) -> None:
        """Load again the handoffs of ``batch`` that ``saved`` (the batch before) changed."""
        changed = {step.handoff_id for step in saved.steps} & batch.loaded.keys()
        if changed:
            batch.loaded.update(load_handoffs(self.ledger, changed, self.decoder.decode))

    def _fire_batch(
        self, steps: list[DueStep], report: PassReport, loaded: dict[UUID, Handoff]
    ) -> int:
        """Fire one batch of due steps; returns how many this reactor recorded."""
        fired = 0
        for outcome in self.ledger.fire_escalations(steps, by=REACTOR, loaded=loaded):
            if outcome.handoff is None:
                report.skipped += 1  # taken by another reactor, or the promise was kept
                continue
            fired += 1
            step = outcome.step
            report.escalated.append((str(step.handoff_id), step.reason.value))
            report.steps.append(step)
        if fired and self.alongside is not None:
            self.alongside.nudge()  # the child projects this batch while we do the next
        return fired

    def _load(self, steps: list[DueStep]) -> dict[UUID, Handoff]:
        """The batch's handoffs as they stand, read in one query."""
        return load_handoffs(self.ledger, [step.handoff_id for step in steps], self.decoder.decode)

    # ------------------------------------------------------------------ follow-ups

    def route_follow_ups(self, report: PassReport) -> None:
        """Create the follow-up of every completion, decline and failure the protocol routes."""
        store = self.views.store
        while True:
            position = store.positions([FOLLOW_UP_TRACKING])[FOLLOW_UP_TRACKING]
            # Every position up to the head is committed (both stores append in order),
            # so a page shorter than asked for has looked at every event up to it.
            head = self.ledger.head()
            if head <= position:
                return
            page = self.ledger.read_log_of(CLOSINGS, after=position, up_to=head, limit=BATCH)
            for entry in page:
                event = entry.event
                assert isinstance(event, Handoff.Completed | Handoff.Declined | Handoff.Failed)
                created = self._follow_up(event, report)
                if created is not None:
                    report.follow_ups.append(created)
            reached = page[-1].position if len(page) == BATCH else head
            try:
                with store.transaction() as cursor:
                    store.record_position(cursor, FOLLOW_UP_TRACKING, position, reached)
            except IntegrityError:
                continue  # another reactor moved on first; its follow-ups are ours too

    def _follow_up(
        self,
        event: Handoff.Completed | Handoff.Declined | Handoff.Failed,
        report: PassReport | None = None,
    ) -> str | None:
        handoff = self.ledger.get(event.originator_id)
        route = follow_up_route(self.ledger.kind_spec(handoff), event)
        if route is None:
            return None
        key = follow_up_key(handoff.id, event.originator_version)
        try:
            outcome = self.ledger.send(
                sender=handoff.receiver,
                to=follow_up_receiver(route, handoff, event),
                kind=route.kind,
                priority=route.priority,
                payload=map_payload(route, handoff),
                parent_id=handoff.id,
                key=key,
            )
        except HandoffError as error:
            # The route exists but cannot be followed (its payload fails the next kind's
            # schema, say): say so on the handoff, where trace and the feeds show it.
            noted = self._note_once(handoff, f"follow-up {route.kind} not created: {error.message}")
            if noted and report is not None:
                report.notes.append(str(handoff.id))
            return None
        return None if outcome.duplicate else str(outcome.handoff.id)

    def _note_once(self, handoff: Handoff, message: str) -> bool:
        """Add the reactor's note unless the handoff has it already; True if added."""
        history = self.ledger.history(handoff.id)
        if any(isinstance(e, Handoff.NoteAdded) and e.message == message for e in history):
            return False
        self.ledger.add_ledger_note(handoff.id, by=REACTOR, message=message)
        return True


def due_step(row: dict[str, Any]) -> DueStep:
    """The step a timers-view row says is due next."""
    return DueStep(
        handoff_id=UUID(row["handoff_id"]),
        reason=EscalationReason(row["reason"]),
        timer_due=from_us(int(row["due_us"])) or datetime.min,
        level=int(row["next_level"]),
        repeat=int(row["next_repeat"] or 0),
    )


def distinct_handoffs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leading rows of ``rows`` up to the first that names a handoff a second time."""
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if row["handoff_id"] in seen:
            return rows[:index]
        seen.add(row["handoff_id"])
    return rows
