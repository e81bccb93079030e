"""PRODUCT.md's acceptance test: six hours offline, nothing dropped, nothing done twice.

Over six simulated hours a few hundred handoffs pass between the seed agents, with
random acks, progress reports, silences, completions and declines, while real
``handoff reactor`` processes run against the same store. The time is a file every
process reads (``HANDOFF_CLOCK=file:...``), so hours pass in seconds and nobody
sleeps for a timer. The reactors are SIGKILLed and restarted several times; for a
stretch two run at once, and for another none runs at all.

At each clock step, while a reactor runs, the test waits (for an event, not a span
of time) until a running reactor has fired every step due at that moment and looked
at every completion, before anyone acts at it. At the end, checked from the log alone:
- every escalation step of every level that fell due was escalated exactly once, and
  nothing else was: the steps owed are worked out from each handoff's own events (its
  armed timers) and the protocol file's escalation levels, read here with ``tomllib``
  (not with the product's policy code nor the plan an ``Escalated`` event records);
- each step was recorded by a looping reactor: within one clock step of its due time
  (simulated time) when a reactor ran then; at the moment one came back for a step
  that fell due while none ran, earliest due first; each timer's levels in order;
- every completion and decline the protocol routes produced its follow-up exactly once;
- no open handoff is left with a broken promise that nobody was told about;
- a last ``reactor --once`` finds nothing left to do and records nothing: no check
  relies on it.

Agents in the simulation keep their promises or stay silent: an agent acts on a
handoff only while none of its timers is due, so every timer that fell due was
still armed when it did, and must have been escalated.

The run and its checks are functions (:func:`simulate`, :func:`check_six_hours`)
shared with ``test_six_hours_a2a.py``, where ``code_agent`` is a remote A2A agent
(a :class:`Beside` runs it and ``handoff a2a-bridge`` at each step).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
from handoff_ledger.domain.errors import InvalidTransition, NotPermitted
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import State, Status
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


def _drain(process: subprocess.Popen[str], said: list[str]) -> None:
    """Read a reactor's stderr to its end (a full pipe would stall it), then close it."""
    assert process.stderr is not None
    for line in process.stderr:
        said.append(line)
    process.stderr.close()


class Reactors:
    """Looping ``handoff reactor`` processes (or another looping command), by slot name."""

    def __init__(
        self,
        env: dict[str, str],
        command: tuple[str, ...] = ("reactor", "--interval", "0.02"),
        running_line: str = "reactor: running",
    ) -> None:
        self.env = env
        self.command = command
        self.running_line = running_line
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.killed = 0
        self.said: list[str] = []  # every process's stderr, for a check of what went wrong

    def start(self, slot: str) -> None:
        """Start a reactor and wait until it says it runs (its SIGTERM handler is set):
        on a loaded machine its start-up can outlast the steps before it is stopped."""
        process = subprocess.Popen(
            [HANDOFF, *self.command],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        first = process.stderr.readline()
        assert self.running_line in first, first
        threading.Thread(target=_drain, args=(process, self.said), daemon=True).start()
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
    refused: Counter[str],
    remote: frozenset[str] = frozenset(),
) -> None:
    """Each open handoff's receiver may ack, report, complete, decline, or stay silent.

    Handoffs in ``quiet`` are never answered after their first ack; those in
    ``never`` are never acked at all (the seed policy reassigns them to the backup).
    A ``remote`` receiver answers for itself (through the A2A bridge); when it asks
    for help, the sender may reply.

    Only the refusals the rules call for here are tolerated, each checked against the
    state that explains it and counted in ``refused``; any other fails the test.
    """
    for handoff_id in list(open_ids):
        handoff = ledger.get(handoff_id)
        if not handoff.is_open:
            open_ids.remove(handoff_id)
            continue
        if not promises_kept(handoff, now) or rng.random() < 0.55:
            continue  # silence: the reactor will have to notice
        if handoff.receiver in remote:
            if handoff.state is State.BLOCKED:
                try:
                    ledger.reply(handoff_id, by=handoff.sender, message="iPhone 15, Safari")
                except InvalidTransition:
                    # The bridge closed it a moment ago (a lost task recorded failed).
                    assert ledger.get(handoff_id).is_terminal
                    refused["reply: closed a moment ago"] += 1
            continue
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
            refused["not the receiver any more"] += 1


Directive = Callable[[random.Random], dict[str, Any]]
"""Fields added to each payload (what a remote agent is to do with it)."""


def send_some(
    ledger: Ledger, rng: random.Random, step: int, directive: Directive | None = None
) -> list[UUID]:
    sent = []
    for n in range(SENDS_PER_STEP):
        extra = directive(rng) if directive is not None else {}
        if rng.random() < 0.7:
            outcome = ledger.send(
                sender="inbox_monitor",
                kind="bug_report",
                payload={
                    "email_id": f"msg_{step}_{n}",
                    "customer": rng.choice(CUSTOMERS),
                    "issue": rng.choice(["Login button", "Slow page", "Typo"]),
                    **extra,
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
                payload=extra or None,
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

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def level_offsets(protocol: str, kind: str | None, reason: str) -> list[timedelta]:
    """When each level of ``reason``'s escalation falls due, after the timer's due time.

    Read from the protocol file itself with ``tomllib``, by the rules docs/protocol.md
    gives (a kind's ``escalation``, else the file's; ``on`` starts a reason's sequence,
    each ``after`` is counted from the level before; a reason no level names gets one),
    sharing nothing with the product's parser or ``domain/escalation.py``. The seed
    policies have no ``renotify``, so a level fires once (repeat 0).
    """
    document = tomllib.loads(protocol)
    spec = document.get("kinds", {}).get(kind or "", {})
    levels = spec.get("escalation") or document.get("escalation") or []
    offsets: list[timedelta] = []
    for level in levels:
        assert "every" not in level, "this oracle does not replay renotify repeats"
        if "on" in level:
            if offsets:
                break
            if level["on"] == reason:
                offsets.append(timedelta(0))
        elif offsets:
            seconds = sum(
                int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", level["after"])
            )
            offsets.append(offsets[-1] + timedelta(seconds=seconds))
    return offsets or [timedelta(0)]


def steps_owed(
    events: list[Handoff.Event], end: datetime, protocol: str
) -> dict[StepKey, datetime]:
    """Every escalation step of one handoff that fell due while its timer was armed
    (before the handoff changed again, or ``end``), with its due time: what the
    reactors owed. The armed timers are the aggregate's after each of its events; the
    levels and their due times are :func:`level_offsets`'."""
    created = events[0]
    assert isinstance(created, Handoff.Created)
    owed: dict[StepKey, datetime] = {}
    handoff: Handoff | None = None
    for index, event in enumerate(events):
        handoff = event.mutate(handoff)
        assert handoff is not None
        until = events[index + 1].timestamp if index + 1 < len(events) else end
        for timer in handoff.timers():
            offsets = level_offsets(protocol, created.kind, timer.reason.value)
            for level, offset in enumerate(offsets, start=1):
                if timer.due + offset <= until:
                    key = (handoff.id, timer.reason.value, timer.due, level, 0)
                    owed[key] = timer.due + offset
    return owed


def reactors_caught_up(views: Views, now: datetime, closed: int) -> bool:
    """No escalation step is due at ``now``, and every closing event up to position
    ``closed`` was looked at for its follow-up (this only tells when to look at the
    log: the checks are made on the log)."""
    views.catch_up()
    if views.read.due_steps(us(now) or 0, limit=1):
        return False
    return views.store.positions([FOLLOW_UP_TRACKING])[FOLLOW_UP_TRACKING] >= closed


@dataclass
class Timeline:
    """When looping reactors ran, as the test saw it at each clock step, and the
    refusals the agents met."""

    covered: list[tuple[datetime, datetime]] = field(default_factory=list)
    """``(start, stop]``: a reactor ran at ``stop`` and had done all that was due by then."""
    came_back: dict[datetime, datetime] = field(default_factory=dict)
    """The start of a stretch with no reactor -> the moment one came back and caught up."""
    refused: Counter[str] = field(default_factory=Counter)
    gap: datetime | None = None
    read: int = 0  # the log position read up to
    closed: int = 0  # the position of the last completion, decline or failure

    def look(self, ledger: Ledger, views: Views, reactors: Reactors, now: datetime) -> None:
        """Before anyone acts at ``now``, a running reactor has done everything due."""
        if not reactors.running:
            if self.gap is None:
                self.gap = now - STEP
            return
        for entry in ledger.read_log(after=self.read):
            self.read = entry.position
            if isinstance(entry.event, Handoff.Completed | Handoff.Declined | Handoff.Failed):
                self.closed = entry.position
        assert eventually(lambda: reactors_caught_up(views, now, self.closed)), (
            f"{now}: the running reactors left a step due or a completion unrouted"
        )
        self.covered.append((now - STEP, now))
        if self.gap is not None:
            self.came_back[self.gap], self.gap = now, None


class Beside:
    """What runs beside the reactors at each step: nothing here; a remote A2A
    ``code_agent`` and its bridge in ``test_six_hours_a2a.py``."""

    remote: frozenset[str] = frozenset()
    """Receivers the simulation does not act for."""
    directive: Directive | None = None

    def begin(self, step: int) -> None:
        """At the start of a step, before anything is sent."""

    def settle(self, step: int) -> None:
        """After everyone acted in a step, before time moves on."""


def simulate(
    ledger: Ledger,
    clock: FileClock,
    reactors: Reactors,
    rng: random.Random,
    beside: Beside | None = None,
) -> Timeline:
    """Six hours in five-minute steps: sends, agents acting, reactors per SCHEDULE.
    At each step, a running reactor catches up before anyone acts; at the end too."""
    beside = beside or Beside()
    views = Views(ledger)
    timeline = Timeline()
    open_ids: list[UUID] = []
    quiet: set[UUID] = set()
    never: set[UUID] = set()
    for step in range(STEPS):
        for action, slot in SCHEDULE.get(step, []):
            getattr(reactors, action)(slot)
        timeline.look(ledger, views, reactors, clock.now())
        beside.begin(step)
        open_ids += send_some(ledger, rng, step, beside.directive)
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
        act(ledger, rng, open_ids, clock.now(), quiet, never, timeline.refused, beside.remote)
        beside.settle(step)
        clock.advance(STEP)
    timeline.look(ledger, views, reactors, clock.now())
    assert timeline.covered[-1][1] == clock.now(), "no reactor ran at the end"
    return timeline


def come_back(
    reactors: Reactors, clock: FileClock, env: dict[str, str], ledger: Ledger
) -> datetime:
    """The person in charge is back: the reactors stop, and one last pass finds
    nothing they left to do (and records nothing). Returns the end of the six hours."""
    reactors.stop_all()
    assert reactors.killed >= 4
    end = clock.now()
    head = ledger.head()
    settle = subprocess.run(
        [HANDOFF, "reactor", "--once", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert settle.returncode == 0, settle.stderr
    left = json.loads(settle.stdout)
    assert (left["escalated"], left["follow_ups"]) == ([], []), left
    assert ledger.head() == head, "the last pass recorded something"
    return end


def check_six_hours(
    ledger: Ledger,
    end: datetime,
    env: dict[str, str],
    timeline: Timeline,
    protocol: str = SEED_PROTOCOL,
) -> dict[UUID, list[Handoff.Event]]:
    """Every check of the six hours, from the log alone (and the digest as
    ``handoff digest`` prints it). Returns each handoff's events."""
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

    # Every step of every level that fell due was escalated, and nothing else was.
    owed: dict[StepKey, datetime] = {}
    for events in by_handoff.values():
        owed |= steps_owed(events, end, protocol)
    missed = sorted(set(owed) - set(steps))
    assert missed == [], f"{len(missed)} steps fell due and were never escalated: {missed[:3]}"
    extra = sorted(set(steps) - set(owed))
    assert extra == [], f"{len(extra)} steps escalated that were not owed: {extra[:3]}"
    assert sum(level > 1 for (_, _, _, level, _) in steps) >= 5, "few later levels fell due"
    check_on_time(escalated, owed, timeline)
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
    follow_ups_owed = []
    for handoff_id, events in by_handoff.items():
        created = events[0]
        assert isinstance(created, Handoff.Created)
        closing = [e for e in events if isinstance(e, Handoff.Completed | Handoff.Declined)]
        routes = created.kind in routed and (
            any(isinstance(e, Handoff.Completed) for e in closing) or created.kind == "bug_report"
        )
        if closing and routes:
            follow_ups_owed.append(handoff_id)
            assert children[handoff_id] == 1, f"{handoff_id} has {children[handoff_id]} follow-ups"
    assert len(follow_ups_owed) >= 50
    assert set(children) <= set(follow_ups_owed)

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
    check_digest(by_handoff, escalated, env)
    return by_handoff


def check_on_time(escalated: list[Any], owed: dict[StepKey, datetime], timeline: Timeline) -> None:
    """Each owed step was recorded by a looping reactor, late by less than one clock
    step (simulated time) when one ran at its due time; at the moment one came back
    when none did, earliest due first; and each timer's levels in order."""
    fired: dict[StepKey, tuple[int, datetime]] = {
        (e.event.originator_id, e.event.reason, e.event.timer_due, e.event.level,
         e.event.repeat): (e.position, e.event.timestamp)
        for e in escalated
    }  # fmt: skip
    late = []
    backlog: list[tuple[int, StepKey]] = []
    for key, due in owed.items():
        position, at = fired[key]
        window = next(((a, b) for a, b in timeline.covered if a < due <= b), None)
        if window is not None:
            on_time = due <= at and window[1] - STEP < at <= window[1]  # late by < STEP
        else:
            gap = max((g for g in timeline.came_back if g < due), default=None)
            assert gap is not None, (key, due)
            on_time = at == timeline.came_back[gap]
            backlog.append((position, key))
        if not on_time:
            late.append((key, due, at))
    assert late == [], f"{len(late)} steps not fired on time: {late[:3]}"
    assert len(backlog) >= 5, "few steps fell due while no reactor ran"
    # Earliest first: no backlog step was taken while one due earlier was takeable.
    backlog.sort()
    for index, (position, key) in enumerate(backlog):
        for _, other in backlog[index + 1 :]:
            before = (*other[:3], other[3] - 1, 0)
            takeable = other[3] == 1 or fired[before][0] < position
            assert not (owed[other] < owed[key] and takeable), (key, other)
    # Each timer's levels, in order.
    by_timer: dict[tuple[UUID, str, datetime], list[tuple[int, int]]] = {}
    for key, _ in sorted(fired.items(), key=lambda item: item[1][0]):
        by_timer.setdefault(key[:3], []).append(key[3:])
    for order in by_timer.values():
        assert order == sorted(order) == [(n, 0) for n in range(1, len(order) + 1)], order


def check_digest(
    by_handoff: dict[UUID, list[Handoff.Event]], escalated: list[Any], env: dict[str, str]
) -> None:
    """What ``handoff digest --since START --for human:me`` tells the person back:
    every escalation that notified them, what passed, and the open work escalated
    to them — the same as the log says."""
    done = subprocess.run(
        [HANDOFF, "digest", "--since", START.isoformat(), "--for", "human:me", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    digest = json.loads(done.stdout)
    told = {
        (UUID(e["id"]), e["reason"], datetime.fromisoformat(e["timer_due"]), e["level"])
        for e in digest["escalated"]
    }
    mine = [e.event for e in escalated if "human:me" in e.event.notified]
    assert told == {(e.originator_id, e.reason, e.timer_due, e.level) for e in mine}
    assert digest["counts"]["escalated"] == len(mine)
    events = [event for handoff_events in by_handoff.values() for event in handoff_events]
    for name, kind in [
        ("created", Handoff.Created), ("completed", Handoff.Completed),
        ("declined", Handoff.Declined), ("reassigned", Handoff.Reassigned),
        ("failed", Handoff.Failed), ("replied", Handoff.Replied),
    ]:  # fmt: skip
        assert digest["counts"][name] == sum(isinstance(e, kind) for e in events), name
    # Open, escalated to human:me, and nobody on the handoff has acted since: an event
    # by a participant (sender, a receiver it had, one named or notified) or by
    # human:me (the seed's admin) answers it, an event by the reactor does not.
    still_open = set()
    answers = (
        Handoff.Acked, Handoff.StatusReported, Handoff.Completed, Handoff.Declined,
        Handoff.Cancelled, Handoff.Reassigned, Handoff.NoteAdded, Handoff.Failed,
        Handoff.Replied, Handoff.TakenOver,
    )  # fmt: skip
    for handoff_id, handoff_events in by_handoff.items():
        handoff: Handoff | None = None
        waiting, people = False, {"human:me"}
        for event in handoff_events:
            handoff = event.mutate(handoff)
            people |= {handoff.sender, handoff.receiver, *handoff.escalation_targets}
            if isinstance(event, Handoff.Escalated):
                waiting = waiting or "human:me" in event.notified
            elif isinstance(event, answers) and event.by != "reactor" and event.by in people:
                waiting = False
        assert handoff is not None
        if handoff.is_open and waiting:
            still_open.add(handoff_id)
    assert {UUID(e["id"]) for e in digest["waiting"]["escalated_to"]} == still_open
    assert still_open


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
        timeline = simulate(ledger, clock, reactors, rng)
        check_six_hours(ledger, come_back(reactors, clock, env, ledger), env, timeline)
    finally:
        for slot in list(reactors.running):  # a failed assertion leaves some running
            process = reactors.running.pop(slot)
            process.kill()
            process.wait(timeout=30)
        ledger.close()
    assert sum(timeline.refused.values()) <= 10, timeline.refused
