"""The reactor core: due timers escalate exactly once, completions get their follow-up once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from waiting import eventually

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock, SimulatedClock
from handoff_ledger.adapters.services.reactor import BATCH, FOLLOW_UP_TRACKING, Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.handoff import Handoff

HANDOFF = str(Path(sys.executable).parent / "handoff")
BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def escalations(ledger: Ledger) -> Counter[tuple[str, str, int]]:
    found: Counter[tuple[str, str, int]] = Counter()
    for entry in ledger.read_log():
        event = entry.event
        if isinstance(event, Handoff.Escalated):
            found[(str(event.originator_id), event.reason, event.level)] += 1
    return found


def test_due_timer_escalates_exactly_once_across_two_reactors(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    silent = ledger.send(
        sender="inbox_monitor", to="code_agent", ack_within=timedelta(hours=1),
        escalate_to=["human:me"],
    ).handoff  # fmt: skip
    kept = ledger.send(
        sender="inbox_monitor", to="support_agent", ack_within=timedelta(hours=1)
    ).handoff
    other = open_ledger(store_url, clock=clock)
    try:
        first, second = Reactor(ledger), Reactor(other)
        assert first.run_once().escalated == []  # nothing is due yet
        clock.advance(timedelta(minutes=30))
        ledger.ack(kept.id, by="support_agent")
        clock.advance(timedelta(minutes=31))
        reports = [first.run_once(), second.run_once(), first.run_once()]
        assert [len(r.escalated) for r in reports] == [1, 0, 0]
        assert escalations(ledger) == Counter({(str(silent.id), "ack_timeout", 1): 1})
        event = next(e.event for e in ledger.read_log() if isinstance(e.event, Handoff.Escalated))
        assert event.notified == ["human:me"]
        assert event.by == "reactor"
        feed = Views(ledger).read.notifications("human:me")
        assert [row["type"] for row in feed][-1] == "Escalated"
    finally:
        other.close()


def test_completion_gets_its_follow_up_exactly_once(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    ledger.apply_protocol(SEED_PROTOCOL, source="handoff.toml", by="human:me")
    bug = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
    ledger.complete(bug.id, by="code_agent", result={"reply": "Fixed in PR #412", "fix": "PR #412"})
    other = open_ledger(store_url, clock=clock)
    try:
        first, second = Reactor(ledger), Reactor(other)
        created = first.run_once().follow_ups
        # The pass that created it projected it, so its broadcasts went out in it.
        assert [s.lag_events for s in first.views.status()] == [0] * len(first.views.projections)
        created += second.run_once().follow_ups
        assert len(created) == 1
        # A replay from the start (lost tracking) finds the follow-up it already made.
        views = first.views
        with views.store.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {views.store.tracking_table} WHERE application_name = "
                f"{views.store.dialect.mark}",
                (FOLLOW_UP_TRACKING,),
            )
        assert first.run_once().follow_ups == []
        children = [
            e.event for e in ledger.read_log()
            if isinstance(e.event, Handoff.Created) and e.event.parent_id == bug.id
        ]  # fmt: skip
        assert len(children) == 1
        reply = children[0]
        assert (reply.kind, reply.sender, reply.receiver) == (
            "customer_reply",
            "code_agent",
            "inbox_monitor",
        )
        assert reply.chain_id == bug.chain_id
        assert reply.payload == {"customer": "jane@company.com", "reply": "Fixed in PR #412"}
    finally:
        other.close()


def test_follow_up_that_cannot_be_created_is_noted_once(ledger: Ledger) -> None:
    ledger.apply_protocol(SEED_PROTOCOL, source="handoff.toml", by="human:me")
    bug = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
    ledger.complete(bug.id, by="code_agent", result={"fix": "no reply written"})
    reactor = Reactor(ledger)
    report = reactor.run_once()
    assert report.follow_ups == []
    assert report.notes == [str(bug.id)]
    # The pass that noted it projected the note (the feeds show it after the pass).
    assert [s.lag_events for s in reactor.views.status()] == [0] * len(reactor.views.projections)
    with reactor.views.store.transaction() as cursor:
        cursor.execute(
            f"DELETE FROM {reactor.views.store.tracking_table} WHERE application_name = "
            f"{reactor.views.store.dialect.mark}",
            (FOLLOW_UP_TRACKING,),
        )
    assert reactor.run_once().notes == []  # noted once
    notes = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.NoteAdded)]
    assert len(notes) == 1
    assert notes[0].by == "reactor"
    assert "follow-up customer_reply not created: payload.reply" in notes[0].message


class LoopingReactor:
    """``handoff reactor --json`` running until killed; a thread reads its pass lines.

    ``escalated`` lists the handoffs this process reported escalating, pass by pass:
    which reactor did what, seen from outside (a pass cut short by SIGKILL is not
    reported, though its saved escalations stand).
    """

    def __init__(self, env: dict[str, str], stderr: Path) -> None:
        self.stderr = stderr
        with stderr.open("w") as errors:
            self.process = subprocess.Popen(
                [HANDOFF, "reactor", "--interval", "0.05", "--json"],
                env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
            )  # fmt: skip
        self.escalated: list[str] = []
        self.unexpected: list[str] = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def running(self) -> bool:
        """Whether it has opened the store and entered its loop (its stderr says so)."""
        assert self.process.poll() is None, self.stderr.read_text()
        return "reactor: running" in self.stderr.read_text()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            document = json.loads(line)
            if "escalated" in document:
                self.escalated += [step["id"] for step in document["escalated"]]
            else:
                self.unexpected.append(line)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.mark.slow
def test_reactor_processes_killed_and_racing_escalate_each_timer_once(
    store_url: str, tmp_path: Path
) -> None:
    # The reactors read the time from a file the test moves: timers fall due when the
    # test says, one by one or in a batch, and no test waits for a timer to fire.
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    ledger = open_ledger(store_url, clock=clock)
    try:
        # Handoff n's ack timer falls due at START + n + 1 min; saved 100 at a time.
        handoffs = [
            Handoff.request(
                now=START, sender="inbox_monitor", receiver=f"agent_{n % 5}",
                ack_within=timedelta(minutes=n + 1), escalate_to=["human:me"],
            )
            for n in range(KILL_TIMERS)
        ]  # fmt: skip
        for first in range(0, KILL_TIMERS, 100):
            ledger.save(*handoffs[first : first + 100])
        ids = [str(handoff.id) for handoff in handoffs]
        env = {**os.environ, "HANDOFF_DB": store_url, CLOCK_ENV: f"file:{clock.path}"}
        due = 0  # how many timers the clock has made due
        loops: list[LoopingReactor] = []
        killed: list[LoopingReactor] = []
        interrupted = 0

        def make_due(count: int) -> int:
            clock.set(START + timedelta(minutes=due + count))
            return due + count

        # Two looping reactors, SIGKILLed, then two more...
        for _ in range(2):
            loops = [
                LoopingReactor(env, tmp_path / f"reactor-{len(killed) + n}.err") for n in (0, 1)
            ]
            assert eventually(lambda: all(loop.running() for loop in loops))  # noqa: B023
            # ...fed one timer at a time until each has escalated something,
            singles = 0
            while not all(loop.escalated for loop in loops):
                singles += 1
                assert singles <= 30, "one looping reactor never won a timer"
                # Released at a random moment of the reactors' 50 ms loops: released
                # as soon as the last one was seen, the same reactor would win each.
                time.sleep(random.uniform(0, 0.1))
                due = make_due(1)
                assert eventually(lambda at_least=due: len(escalations(ledger)) >= at_least)
            # ...then a batch, and both killed the moment it is under way.
            head = ledger.recorder.max_notification_id()
            due = make_due(KILL_BATCH)
            under_way(ledger, head)
            for loop in loops:
                loop.kill()
            killed += loops
            # A batch is saved in one transaction: a kill cut a pass short if the batch
            # is not all escalated, or if escalations stand that no finished pass reported.
            stored = {hid for hid, _, _ in escalations(ledger)}
            reported = {hid for loop in killed for hid in loop.escalated}
            interrupted += len(stored) < due or bool(stored - reported)
        # Every killed reactor had done work before it died, and some kill cut a pass.
        assert all(loop.escalated for loop in killed), [loop.escalated for loop in killed]
        assert not [line for loop in killed for line in loop.unexpected]
        assert interrupted >= 1, "every pass was finished before the kill"
        # ...then three one-shot reactors at once finish everything that is left.
        clock.set(START + timedelta(minutes=KILL_TIMERS))
        racing = [
            subprocess.Popen(
                [HANDOFF, "reactor", "--once", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        reported = [loop.escalated for loop in killed]
        for proc in racing:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            reported.append([step["id"] for step in json.loads(out)["escalated"]])
        found = escalations(ledger)
        assert set(found) == {(hid, "ack_timeout", 1) for hid in ids}
        assert set(found.values()) == {1}
        # No two reactors claim one escalation.
        claims = Counter(hid for one in reported for hid in one)
        assert set(claims.values()) == {1}
        assert len(claims) <= len(ids)
    finally:
        for loop in loops:  # a failed assertion leaves no reactor running
            loop.kill()
        ledger.close()


START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

KILL_BATCH = 2 * BATCH + 20
"""Timers made due at once, then the reactors killed: three transactions' worth, so the
kill, the moment the first of them is seen in the log, finds the pass still under way.
(With 20, one transaction: on a loaded machine the pass had sometimes finished and
reported before the test saw the log move. With ``BATCH + 20``, two transactions: it
still had, once in 22 loaded runs, when the test process was not scheduled for the
tenth of a second the pass's second batch and the end of its round took.)"""

KILL_TIMERS = 2 * (30 + KILL_BATCH)
"""Timers for the kill test: at most 2 x (30 single + a batch) are made due in rounds."""


def under_way(ledger: Ledger, head: int | None) -> None:
    """Return as soon as the log moves past ``head`` (looked at every millisecond)."""
    deadline = time.monotonic() + 60
    while ledger.recorder.max_notification_id() == head:
        assert time.monotonic() < deadline, "no reactor took the batch"
        time.sleep(0.001)


POLICY_PROTOCOL = """
[agents.inbox_monitor]
[agents.code_agent]
[agents.backup_agent]
[agents."human:me"]

[kinds.bug_report]
to = "code_agent"
ack_within = "1h"
escalation = [
  { on = "ack_timeout", notify = ["human:me"] },
  { after = "30m", notify = ["human:me"], action = "renotify", every = "10m" },
  { after = "1h", notify = ["human:me"], action = "reassign", to = "backup_agent" },
]
"""


def steps_of(ledger: Ledger) -> list[tuple[str, int, int, str, list[str]]]:
    return [
        (e.event.reason, e.event.level, e.event.repeat, e.event.action, e.event.notified)
        for e in ledger.read_log()
        if isinstance(e.event, Handoff.Escalated)
    ]


def test_policy_levels_notify_renotify_then_reassign_to_the_backup(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    ledger.apply_protocol(POLICY_PROTOCOL, source="handoff.toml", by="human:me")
    bug = ledger.send(sender="inbox_monitor", kind="bug_report").handoff
    reactor = Reactor(ledger)
    fired = []
    for _ in range(30):  # one pass every 5 simulated minutes for 150 minutes
        clock.advance(timedelta(minutes=5))
        fired += [(s.level, s.repeat) for s in reactor.run_once().steps]
    # Level 1 at +1h; level 2 at +1h30, then every 10 min until level 3 at +2h30...
    assert fired == [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5), (3, 0)]
    assert steps_of(ledger)[0] == ("ack_timeout", 1, 0, "notify", ["human:me"])
    # ...which reassigns the work to the backup, with a fresh ack timer of its own.
    moved = ledger.get(bug.id)
    assert moved.receiver == "backup_agent"
    assert steps_of(ledger)[-1] == ("ack_timeout", 3, 0, "reassign", ["human:me"])
    reassigned = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.Reassigned)]
    assert [(r.by, r.to_receiver) for r in reassigned] == [("reactor", "backup_agent")]
    assert [t.due for t in moved.timers()] == [clock.now() + timedelta(hours=1)]
    assert reactor.run_once().steps == []


def test_after_downtime_every_level_that_fell_due_fires_once_in_order(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    ledger.apply_protocol(POLICY_PROTOCOL, source="handoff.toml", by="human:me")
    bug = ledger.send(sender="inbox_monitor", kind="bug_report").handoff
    clock.advance(timedelta(hours=6))  # nobody ran a reactor for six hours
    other = open_ledger(store_url, clock=clock)
    try:
        first, second = Reactor(ledger), Reactor(other)
        reports = [first.run_once(), second.run_once()]
        # Level 1, level 2 once (the repeats that fell due meanwhile are not burst
        # out), level 3; then the backup's own ack timer is at level 1 after +1h.
        assert [(s.level, s.repeat) for s in reports[0].steps] == [(1, 0), (2, 0), (3, 0)]
        assert reports[1].steps == []
        assert ledger.get(bug.id).receiver == "backup_agent"
        clock.advance(timedelta(hours=1))
        assert [(s.level, s.repeat) for s in second.run_once().steps] == [(1, 0)]
        assert first.run_once().steps == []
        assert len(steps_of(ledger)) == 4
    finally:
        other.close()
