"""PRODUCT.md's acceptance test: six hours offline, nothing dropped, nothing done twice.

Over six simulated hours a few hundred handoffs pass between the seed agents, with
random acks, progress reports, silences, completions and declines, while real
``handoff reactor`` processes run against the same store. The time is a file every
process reads (``HANDOFF_CLOCK=file:...``), so hours pass in seconds and nobody
sleeps for a timer. The reactors are SIGKILLed and restarted several times; for a
stretch two run at once, and for another none runs at all.

Each time the clock moves on, a running reactor must first have fired every step
that was due and followed up every routed completion (the test waits for that, an
event, not for a span of time), so each step is recorded within one clock step of
its due time. At the end, checked from the log alone:
- every escalation step of every level that fell due (replayed with each handoff's
  own plan of next steps) was escalated once, by a looping reactor: within one clock
  step of its due time while a reactor ran, at the moment one came back for those
  due while none ran, and each handoff's steps in order;
- every completion and decline the protocol routes produced its follow-up exactly once;
- no open handoff is left with a broken promise that nobody was told about;
- a last ``reactor --once`` finds nothing left to do (the checks do not rely on it).

Agents in the simulation keep their promises or stay silent: an agent acts on a
handoff only while none of its timers is due, so every timer that fell due was
still armed when it did, and must have been escalated.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from waiting import eventually

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock
from handoff_ledger.adapters.services.reactor import FOLLOW_UP_TRACKING
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import NotPermitted
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.base import us

HANDOFF = str(Path(sys.executable).parent / "handoff")
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
STEPS = 72  # six hours
SENDS_PER_STEP = 4
CUSTOMERS = ["jane@company.com", "raj@company.com", "li@company.com"]

# When (in steps) each reactor slot starts and stops; `kill` is SIGKILL, not a stop.
# Slots a and b overlap in steps 20-34 (two reactors at once); none runs in 50-57.
SCHEDULE = {
    0: [("start", "a")],
    12: [("kill", "a"), ("start", "b")],
    20: [("start", "a")],
    35: [("kill", "b")],
    50: [("kill", "a")],
    58: [("start", "b")],
    66: [("kill", "b"), ("start", "a")],
}


def _drain(process: subprocess.Popen[str]) -> None:
    """Read a reactor's stderr to its end (a full pipe would stall it), then close it."""
    assert process.stderr is not None
    for _ in process.stderr:
        pass
    process.stderr.close()


class Reactors:
    """Looping ``handoff reactor`` processes, by slot name."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.killed = 0

    def start(self, slot: str) -> None:
        """Start a reactor and wait until it says it runs (its SIGTERM handler is set):
        on a loaded machine its start-up can outlast the steps before it is stopped."""
        process = subprocess.Popen(
            [HANDOFF, "reactor", "--interval", "0.02"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "reactor: running" in first, first
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        self.running[slot] = process

    def kill(self, slot: str) -> None:
        process = self.running.pop(slot)
        assert process.poll() is None, "a reactor died on its own"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        self.killed += 1

    def stop_all(self) -> None:
        for slot in list(self.running):
            process = self.running.pop(slot)
            assert process.poll() is None, "a reactor died on its own"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0


def promises_kept(handoff: Handoff, now: datetime) -> bool:
    """An agent only acts on a handoff none of whose timers has fallen due."""
    return handoff.is_open and not handoff.due_timers(now)


def act(
    ledger: Ledger,
    rng: random.Random,
    open_ids: list[UUID],
    now: datetime,
    quiet: set[UUID],
    never: set[UUID],
) -> None:
    """Each open handoff's receiver may ack, report, complete, decline, or stay silent.

    Handoffs in ``quiet`` are never answered after their first ack; those in
    ``never`` are never acked at all (the seed policy reassigns them to the backup).
    """
    for handoff_id in list(open_ids):
        handoff = ledger.get(handoff_id)
        if not handoff.is_open:
            open_ids.remove(handoff_id)
            continue
        if not promises_kept(handoff, now) or rng.random() < 0.55:
            continue  # silence: the reactor will have to notice
        if (handoff_id in quiet and handoff.acked_at is not None) or (
            handoff_id in never and handoff.receiver != "backup_agent"
        ):
            continue
        me, roll = handoff.receiver, rng.random()
        try:
            if handoff.acked_at is None and roll < 0.5:
                ledger.ack(
                    handoff_id, by=me, eta=timedelta(hours=2), next_update=timedelta(minutes=30)
                )
            elif roll < 0.7:
                ledger.report_status(
                    handoff_id, by=me, status=Status.PROGRESS, message="on it",
                    next_update=timedelta(minutes=30),
                )  # fmt: skip
            elif roll < 0.93:
                reply = {"reply": f"Fixed: {handoff.payload.get('issue', 'done')}", "fix": "PR"}
                ledger.complete(handoff_id, by=me, result=reply)
            else:
                ledger.decline(handoff_id, by=me, reason="not mine")
        except NotPermitted:
            # The one refusal the rules allow here: the reactor reassigned the handoff
            # a moment ago, and the new receiver acts next time. Any other refusal (a
            # wrongly refused ack, say) fails the test.
            assert ledger.get(handoff_id).receiver != me


def send_some(ledger: Ledger, rng: random.Random, step: int) -> list[UUID]:
    sent = []
    for n in range(SENDS_PER_STEP):
        if rng.random() < 0.7:
            outcome = ledger.send(
                sender="inbox_monitor",
                kind="bug_report",
                payload={
                    "email_id": f"msg_{step}_{n}",
                    "customer": rng.choice(CUSTOMERS),
                    "issue": rng.choice(["Login button", "Slow page", "Typo"]),
                },
                key=f"email:msg_{step}_{n}",
            )
        else:
            outcome = ledger.send(
                sender="support_agent",
                to=rng.choice(["code_agent", "inbox_monitor"]),
                trigger="Customer asked for an update",
                ack_within=timedelta(minutes=rng.choice([15, 30, 60])),
                deadline=timedelta(hours=rng.choice([1, 2, 3])),
                escalate_to=["human:me"],
            )
        sent.append(outcome.handoff.id)
    return sent


def handoffs_from_log(ledger: Ledger) -> tuple[dict[UUID, list[Handoff.Event]], list[Any]]:
    by_handoff: dict[UUID, list[Handoff.Event]] = {}
    entries = list(ledger.read_log())
    for entry in entries:
        by_handoff.setdefault(entry.event.originator_id, []).append(entry.event)
    return by_handoff, entries


StepKey = tuple[UUID, str, datetime, int, int]
"""(handoff, reason, timer due, level, repeat): one escalation step."""


def steps_that_fell_due(events: list[Handoff.Event], end: datetime) -> dict[StepKey, datetime]:
    """Every escalation step, of any level, planned and due before the handoff changed
    again (or ``end``): what the reactors owed, with its due time.

    Replayed from the handoff's own events: level 1 at the timer's due time, then the
    step each ``Escalated`` event planned next (its policy's later levels and repeats).
    """
    owed: dict[StepKey, datetime] = {}
    handoff: Handoff | None = None
    for index, event in enumerate(events):
        handoff = event.mutate(handoff)
        assert handoff is not None
        until = events[index + 1].timestamp if index + 1 < len(events) else end
        for timer in handoff.timers():
            step = handoff.next_step(timer)
            if step is not None and step.due <= until:
                key = (handoff.id, timer.reason.value, timer.due, step.level, step.repeat)
                owed[key] = step.due
    return owed


def reactors_caught_up(ledger: Ledger, views: Views, head: int) -> bool:
    """Nothing is due at the clock's time, and every completion up to ``head`` was
    looked at for its follow-up."""
    views.catch_up()
    if views.read.due_steps(us(ledger.clock.now()) or 0, limit=1):
        return False
    routed = views.store.positions([FOLLOW_UP_TRACKING])[FOLLOW_UP_TRACKING]
    return routed >= head


@pytest.mark.slow
def test_six_hours_offline_nothing_dropped_nothing_twice(store_url: str, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    clock = FileClock(clock_file)
    clock.set(START)
    ledger = open_ledger(store_url, clock=clock)
    env = {**os.environ, "HANDOFF_DB": store_url, CLOCK_ENV: f"file:{clock_file}"}
    reactors = Reactors(env)
    rng = random.Random(20261125)
    try:
        ledger.apply_protocol(SEED_PROTOCOL, source="handoff.toml", by="human:me")
        open_ids: list[UUID] = []
        quiet: set[UUID] = set()
        never: set[UUID] = set()
        views = Views(ledger)
        covered: list[tuple[datetime, datetime]] = []  # when a reactor was running
        backlog_at: dict[datetime, datetime] = {}  # a gap's start -> when one came back
        gap: datetime | None = None
        for step in range(STEPS):
            for action, slot in SCHEDULE.get(step, []):
                getattr(reactors, action)(slot)
            open_ids += send_some(ledger, rng, step)
            # Follow-ups the reactors created are open work too.
            open_ids += [
                e.event.originator_id
                for e in ledger.read_log(after=0)
                if isinstance(e.event, Handoff.Created)
                and e.event.parent_id is not None
                and e.event.originator_id not in open_ids
            ] if step % 6 == 0 else []  # fmt: skip
            for handoff_id in open_ids[-SENDS_PER_STEP:]:
                roll = rng.random()
                (never if roll < 0.1 else quiet if roll < 0.3 else set()).add(handoff_id)
            act(ledger, rng, open_ids, clock.now(), quiet, never)
            now = clock.now()
            if reactors.running:
                # Before time moves on, a running reactor has done everything due now.
                head = ledger.head()
                assert eventually(lambda h=head: reactors_caught_up(ledger, views, h)), now
                covered.append((now - STEP, now))
                if gap is not None:
                    backlog_at[gap], gap = now, None
            elif gap is None:
                gap = now - STEP
            clock.advance(STEP)
        end = clock.now()
        head = ledger.head()
        assert eventually(lambda: reactors_caught_up(ledger, views, head))
        covered.append((end - STEP, end))
        reactors.stop_all()
        assert reactors.killed >= 4
        assert backlog_at, "the schedule has a stretch with no reactor"
        # The person in charge is back: a last pass finds nothing the looping reactors left.
        settle = subprocess.run(
            [HANDOFF, "reactor", "--once", "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert settle.returncode == 0, settle.stderr
        left = json.loads(settle.stdout)
        assert (left["escalated"], left["follow_ups"]) == ([], []), left

        by_handoff, entries = handoffs_from_log(ledger)
        assert len(by_handoff) >= 300  # a few hundred handoffs, follow-ups included
        escalated = [e for e in entries if isinstance(e.event, Handoff.Escalated)]
        steps = Counter(
            (
                e.event.originator_id,
                e.event.reason,
                e.event.timer_due,
                e.event.level,
                e.event.repeat,
            )
            for e in escalated
        )
        assert len(steps) >= 100
        assert max(steps.values()) == 1, "an escalation step happened twice"
        assert all(e.event.by == "reactor" for e in escalated)

        # Every step of every level that fell due was escalated, and only those.
        owed: dict[StepKey, datetime] = {}
        for events in by_handoff.values():
            owed |= steps_that_fell_due(events, end)
        missed = sorted(set(owed) - set(steps))
        assert missed == [], f"{len(missed)} steps fell due and were never escalated: {missed[:3]}"
        assert set(steps) <= set(owed), "a step was escalated that was not due"
        assert len({level for (_, _, _, level, _) in steps}) >= 2  # later levels too
        # Each by a looping reactor, on time: within one clock step while one ran, at
        # the moment one came back for a step that fell due while none ran.
        fired_at = {
            (e.event.originator_id, e.event.reason, e.event.timer_due, e.event.level,
             e.event.repeat): e.event.timestamp
            for e in escalated
        }  # fmt: skip
        late = []
        from_backlog = 0
        for key, due in owed.items():
            window = next(((start, stop) for start, stop in covered if start < due <= stop), None)
            if window is not None:
                on_time = window[1] - STEP < fired_at[key] <= window[1]
            else:
                gap_start = max(g for g in backlog_at if g < due)
                on_time = fired_at[key] == backlog_at[gap_start]
                from_backlog += 1
            if not on_time:
                late.append((key, due, fired_at[key]))
        assert late == [], f"{len(late)} steps late: {late[:3]}"
        assert from_backlog >= 5, "few steps fell due while no reactor ran"
        for events in by_handoff.values():  # a handoff's steps of one timer, in order
            fired: dict[tuple[str, datetime], list[tuple[int, int]]] = {}
            for event in events:
                if isinstance(event, Handoff.Escalated):
                    key2 = (event.reason, event.timer_due)
                    fired.setdefault(key2, []).append((event.level, event.repeat))
            assert all(order == sorted(order) for order in fired.values()), fired
        reasons = {e.event.reason for e in escalated}
        assert {r.value for r in EscalationReason if r is not EscalationReason.MANUAL} <= reasons
        # The seed policy's second level reassigned silent bug reports to the backup.
        backups = [
            e for e in entries
            if isinstance(e.event, Handoff.Reassigned) and e.event.to_receiver == "backup_agent"
        ]  # fmt: skip
        assert backups
        assert all(e.event.by == "reactor" for e in backups)

        # Every routed completion and decline: exactly one follow-up, in its chain.
        children: Counter[UUID] = Counter()
        for events in by_handoff.values():
            created = events[0]
            assert isinstance(created, Handoff.Created)
            if created.parent_id is not None:
                children[created.parent_id] += 1
        routed = {"bug_report", "customer_reply"}
        owed = []
        for handoff_id, events in by_handoff.items():
            created = events[0]
            assert isinstance(created, Handoff.Created)
            closing = [e for e in events if isinstance(e, Handoff.Completed | Handoff.Declined)]
            routes = created.kind in routed and (
                any(isinstance(e, Handoff.Completed) for e in closing)
                or created.kind == "bug_report"
            )
            if closing and routes:
                owed.append(handoff_id)
                assert children[handoff_id] == 1, (
                    f"{handoff_id} has {children[handoff_id]} follow-ups"
                )
        assert len(owed) >= 50
        assert set(children) <= set(owed)

        # Nothing is left with a broken promise that nobody was told about.
        for handoff_id, events in by_handoff.items():
            handoff: Handoff | None = None
            for event in events:
                handoff = event.mutate(handoff)
            assert handoff is not None
            for timer in handoff.due_timers(end):
                assert (timer.reason.value, timer.due) in {
                    (r, due) for (h, r, due, _, _) in steps if h == handoff_id
                }, f"{handoff_id}: {timer.reason.value} due {timer.due} never escalated"
    finally:
        for slot in list(reactors.running):  # a failed assertion leaves none running
            process = reactors.running.pop(slot)
            process.kill()
            process.wait(timeout=30)
        ledger.close()
