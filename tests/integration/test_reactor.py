"""The reactor core: due timers escalate exactly once, completions get their follow-up once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import FOLLOW_UP_TRACKING, Reactor
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
        created = first.run_once().follow_ups + second.run_once().follow_ups
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
    assert reactor.run_once().follow_ups == []
    with reactor.views.store.transaction() as cursor:
        cursor.execute(
            f"DELETE FROM {reactor.views.store.tracking_table} WHERE application_name = "
            f"{reactor.views.store.dialect.mark}",
            (FOLLOW_UP_TRACKING,),
        )
    reactor.run_once()
    notes = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.NoteAdded)]
    assert len(notes) == 1
    assert notes[0].by == "reactor"
    assert "follow-up customer_reply not created: payload.reply" in notes[0].message


@pytest.mark.slow
def test_reactor_processes_killed_and_racing_escalate_each_timer_once(store_url: str) -> None:
    # Timers made due in real time: the handoffs were sent "two hours ago" by a
    # simulated clock, so no test waits for a timer to fire.
    past = SimulatedClock(datetime.now(UTC) - timedelta(hours=2))
    ledger = open_ledger(store_url, clock=past)
    try:
        ids = []
        for n in range(60):
            sent = ledger.send(
                sender="inbox_monitor", to=f"agent_{n % 5}", ack_within=timedelta(minutes=30),
                escalate_to=["human:me"],
            )  # fmt: skip
            ids.append(str(sent.handoff.id))
        env = {**os.environ, "HANDOFF_DB": store_url}
        # Two looping reactors, each SIGKILLed and restarted at odd moments...
        for round_number in range(3):
            loops = [
                subprocess.Popen(
                    [HANDOFF, "reactor", "--interval", "0.05"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            time.sleep(0.4 + 0.3 * round_number)  # let them get partway, then kill them
            for loop in loops:
                loop.send_signal(signal.SIGKILL)
                loop.wait(timeout=30)
        # ...then three one-shot reactors at once finish whatever is left.
        racing = [
            subprocess.Popen(
                [HANDOFF, "reactor", "--once"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for proc in racing:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        found = escalations(ledger)
        assert set(found) == {(hid, "ack_timeout", 1) for hid in ids}
        assert set(found.values()) == {1}
    finally:
        ledger.close()


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
