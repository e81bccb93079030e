"""The digest: what passed in a window, what was escalated, what waits, on both stores.

One morning on a simulated clock (START is 09:00), read back through windows:

    09:00  P  support_agent → code_agent                      (before the window)
    09:05  A  inbox_monitor → code_agent, ack 1h, escalate human:me
    09:05  B  inbox_monitor → code_agent, high, ack 1h, escalate human:me
    09:10  code_agent acks A
    09:40  code_agent completes A; F code_agent → inbox_monitor follows it (parent A)
    09:45  support_agent reassigns P to backup_agent
    10:10  the reactor escalates B's ack_timeout (due 10:05) to human:me
    10:30  C  support_agent → human:me, high, ack 1h (due 11:30, never acked)
    11:00  code_agent acks B: the escalated promise is kept (and the escalation answered)
    12:00  now
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.digest import build_digest
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.priorities import Priority

HOUR = timedelta(hours=1)


@dataclass
class Morning:
    """The ids of the morning's handoffs, as short strings."""

    p: str
    a: str
    b: str
    f: str
    c: str


def at(clock: SimulatedClock, hh_mm: str) -> datetime:
    """A time of the test's day (START's date)."""
    hours, minutes = (int(x) for x in hh_mm.split(":"))
    return clock.now().replace(hour=hours, minute=minutes, second=0, microsecond=0)


def z(clock: SimulatedClock, hh_mm: str) -> str | None:
    return iso(at(clock, hh_mm))


@pytest.fixture
def morning(ledger: Ledger, clock: SimulatedClock) -> Morning:
    start = clock.now()
    p = ledger.send(sender="support_agent", to="code_agent").handoff
    clock.set(start + timedelta(minutes=5))
    a = ledger.send(
        sender="inbox_monitor", to="code_agent", kind="bug_report", ack_within=HOUR,
        escalate_to=["human:me"],
    ).handoff  # fmt: skip
    b = ledger.send(
        sender="inbox_monitor", to="code_agent", kind="bug_report", priority=Priority.HIGH,
        ack_within=HOUR, escalate_to=["human:me"],
    ).handoff  # fmt: skip
    clock.set(start + timedelta(minutes=10))
    ledger.ack(a.id, by="code_agent")
    clock.set(start + timedelta(minutes=40))
    ledger.complete(a.id, by="code_agent", result={"fix": "PR #412"})
    f = ledger.send(
        sender="code_agent", to="inbox_monitor", kind="customer_reply", parent_id=a.id
    ).handoff
    clock.set(start + timedelta(minutes=45))
    ledger.reassign(p.id, by="support_agent", to="backup_agent", reason="code_agent is busy")
    clock.set(start + timedelta(minutes=70))
    report = Reactor(ledger).run_once()
    assert [hid for hid, _ in report.escalated] == [str(b.id)]
    clock.set(start + timedelta(minutes=90))
    c = ledger.send(
        sender="support_agent", to="human:me", priority=Priority.HIGH, ack_within=HOUR
    ).handoff
    clock.set(start + timedelta(minutes=120))
    ledger.ack(b.id, by="code_agent")
    clock.set(start + timedelta(hours=3))
    return Morning(*(str(h.id) for h in (p, a, b, f, c)))


def digest(
    ledger: Ledger, since: datetime, until: datetime | None = None, agent: str | None = None
) -> dict[str, Any]:
    views = Views(ledger)
    views.catch_up()
    return build_digest(ledger, views, since, until, agent)


def passed(document: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["type"], e["id"], e["at"]) for e in document["passed"]]


def test_digest_shows_what_passed_in_the_window(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    m = morning
    document = digest(ledger, since=at(clock, "09:01"))
    assert document["window"] == {"since": z(clock, "09:01"), "until": z(clock, "12:00")}
    assert document["for"] is None
    assert passed(document) == [
        ("Created", m.a, z(clock, "09:05")),
        ("Created", m.b, z(clock, "09:05")),
        ("Completed", m.a, z(clock, "09:40")),
        ("Created", m.f, z(clock, "09:40")),
        ("Reassigned", m.p, z(clock, "09:45")),
        ("Created", m.c, z(clock, "10:30")),
    ]
    created_b, completed_a, follow_up, reassigned = (document["passed"][i] for i in (1, 2, 3, 4))
    assert created_b == {
        "type": "Created", "at": z(clock, "09:05"), "id": m.b, "chain_id": m.b,
        "parent_id": None, "kind": "bug_report", "priority": "high",
        "sender": "inbox_monitor", "receiver": "code_agent", "from_receiver": None,
        "by": "inbox_monitor", "reason": None, "state": "acked",
    }  # fmt: skip
    assert (completed_a["by"], completed_a["state"]) == ("code_agent", "completed")
    assert (follow_up["parent_id"], follow_up["chain_id"]) == (m.a, m.a)
    assert (reassigned["from_receiver"], reassigned["receiver"]) == ("code_agent", "backup_agent")
    assert (reassigned["by"], reassigned["reason"]) == ("support_agent", "code_agent is busy")
    assert document["counts"] == {
        "created": 4, "completed": 1, "declined": 0, "cancelled": 0, "reassigned": 1,
        "failed": 0, "replied": 0, "escalated": 1, "follow_ups": 1,
    }  # fmt: skip


def test_digest_shows_each_escalation_and_whether_the_promise_was_kept(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    document = digest(ledger, since=at(clock, "09:01"))
    assert document["escalated"] == [
        {
            "at": z(clock, "10:10"), "id": morning.b, "chain_id": morning.b,
            "kind": "bug_report", "sender": "inbox_monitor", "receiver": "code_agent",
            "reason": "ack_timeout", "level": 1, "notified": ["human:me"],
            "timer_due": z(clock, "10:05"), "by": "reactor", "kept_at": z(clock, "11:00"),
            "state": "acked",
        }
    ]  # fmt: skip
    before_the_ack = digest(ledger, since=at(clock, "09:01"), until=at(clock, "10:30"))
    [escalation] = before_the_ack["escalated"]
    assert (escalation["kept_at"], escalation["state"]) == (None, "requested")


def test_digest_without_for_lists_everything_overdue_and_open_per_receiver(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    waiting = digest(ledger, since=at(clock, "09:01"))["waiting"]
    assert waiting["as_of"] == z(clock, "12:00")
    assert [(w["id"], w["reason"], w["due"], w["receiver"]) for w in waiting["overdue"]] == [
        (morning.c, "ack_timeout", z(clock, "11:30"), "human:me")
    ]
    assert waiting["open_by_receiver"] == {
        "backup_agent": 1, "code_agent": 1, "human:me": 1, "inbox_monitor": 1
    }  # fmt: skip


def test_digest_for_an_agent_keeps_what_it_sent_received_or_was_notified_about(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    m = morning
    mine = digest(ledger, since=at(clock, "09:01"), agent="human:me")
    assert mine["for"] == "human:me"
    # A and B name human:me as their escalation target; C is sent to it. F and P are not its.
    assert passed(mine) == [
        ("Created", m.a, z(clock, "09:05")),
        ("Created", m.b, z(clock, "09:05")),
        ("Completed", m.a, z(clock, "09:40")),
        ("Created", m.c, z(clock, "10:30")),
    ]
    assert [e["id"] for e in mine["escalated"]] == [m.b]
    assert mine["counts"] == {
        "created": 3, "completed": 1, "declined": 0, "cancelled": 0, "reassigned": 0,
        "failed": 0, "replied": 0, "escalated": 1, "follow_ups": 0,
    }  # fmt: skip
    waiting = mine["waiting"]
    assert set(waiting) == {"as_of", "queue", "escalated_to"}
    assert [(q["id"], q["queue_position"], q["state"]) for q in waiting["queue"]] == [
        (m.c, 1, "requested")
    ]
    # code_agent acked B at 11:00: that answered the escalation, so B no longer waits
    # on human:me (issue 22 item 10). Before the ack it did:
    assert waiting["escalated_to"] == []
    before_the_ack = digest(ledger, at(clock, "09:01"), at(clock, "10:59"), agent="human:me")
    assert before_the_ack["waiting"]["escalated_to"] == [
        {
            "id": m.b, "chain_id": m.b, "kind": "bug_report", "priority": "high",
            "sender": "inbox_monitor", "receiver": "code_agent", "state": "requested",
            "escalations": 1, "last_reason": "ack_timeout", "last_level": 1,
            "last_escalated_at": z(clock, "10:10"),
        }
    ]  # fmt: skip


def test_digest_for_an_agent_includes_handoffs_it_held_before_a_reassign(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    m = morning
    coder = digest(ledger, since=at(clock, "09:01"), agent="code_agent")
    assert [(t, hid) for t, hid, _ in passed(coder)] == [
        ("Created", m.a), ("Created", m.b), ("Completed", m.a), ("Created", m.f),
        ("Reassigned", m.p),
    ]  # fmt: skip
    assert coder["waiting"]["escalated_to"] == []
    assert [q["id"] for q in coder["waiting"]["queue"]] == [m.b]
    backup = digest(ledger, since=at(clock, "09:01"), agent="backup_agent")
    assert [(t, hid) for t, hid, _ in passed(backup)] == [("Reassigned", m.p)]
    assert [q["id"] for q in backup["waiting"]["queue"]] == [m.p]
    assert digest(ledger, since=at(clock, "09:01"), agent="nobody")["passed"] == []


def test_window_boundaries_are_inclusive_and_state_is_as_of_the_end(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    m = morning
    document = digest(ledger, since=at(clock, "09:05"), until=at(clock, "09:40"))
    assert passed(document) == [
        ("Created", m.a, z(clock, "09:05")),
        ("Created", m.b, z(clock, "09:05")),
        ("Completed", m.a, z(clock, "09:40")),
        ("Created", m.f, z(clock, "09:40")),
    ]
    assert [e["state"] for e in document["passed"]] == [
        "completed", "requested", "completed", "requested"
    ]  # fmt: skip
    assert document["escalated"] == []
    # What waited at the end of a past window is replayed, not read from the live views.
    assert document["waiting"]["as_of"] == z(clock, "09:40")
    assert document["waiting"]["overdue"] == []
    assert document["waiting"]["open_by_receiver"] == {"code_agent": 2, "inbox_monitor": 1}
    one_second_short = at(clock, "09:40") - timedelta(seconds=1)
    assert [t for t, _, _ in passed(digest(ledger, at(clock, "09:06"), one_second_short))] == []


def test_a_past_window_shows_what_was_overdue_and_queued_then(
    ledger: Ledger, clock: SimulatedClock, morning: Morning
) -> None:
    m = morning
    before_reactor = digest(ledger, since=at(clock, "09:01"), until=at(clock, "10:07"))
    [late] = before_reactor["waiting"]["overdue"]
    assert (late["id"], late["reason"], late["due"]) == (m.b, "ack_timeout", z(clock, "10:05"))
    at_c = digest(ledger, since=at(clock, "10:30"), until=at(clock, "10:30"), agent="human:me")
    assert passed(at_c) == [("Created", m.c, z(clock, "10:30"))]
    assert [(q["id"], q["queue_position"]) for q in at_c["waiting"]["queue"]] == [(m.c, 1)]
    assert [e["id"] for e in at_c["waiting"]["escalated_to"]] == [m.b]


def test_since_after_until_or_after_now_is_bad_input(ledger: Ledger, clock: SimulatedClock) -> None:
    ledger.send(sender="inbox_monitor", to="code_agent")
    with pytest.raises(InvalidInput, match=r"since: .* is after the end of the window, until"):
        digest(ledger, since=clock.now(), until=clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="after the end of the window, now"):
        digest(ledger, since=clock.now() + HOUR)


def test_an_empty_ledger_gives_an_empty_digest(ledger: Ledger, clock: SimulatedClock) -> None:
    document = digest(ledger, since=clock.now() - HOUR, agent="human:me")
    assert document["passed"] == document["escalated"] == []
    assert document["waiting"] == {"as_of": iso(clock.now()), "queue": [], "escalated_to": []}
    assert set(document["counts"].values()) == {0}


def test_an_escalation_waits_on_you_until_someone_on_the_handoff_answers_it(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """The rule of ``gaps``' escalation_unanswered: a participant's (or an admin's) act
    answers it; a note from an agent with no part in the handoff does not; a new
    escalation puts it back."""
    silent = ledger.send(
        sender="inbox_monitor", to="code_agent", ack_within=HOUR, escalate_to=["human:me"]
    ).handoff
    ledger.ack(silent.id, by="code_agent", next_update=HOUR)
    clock.advance(HOUR + timedelta(minutes=1))
    assert Reactor(ledger).run_once().steps  # update_overdue, level 1, to human:me
    since = clock.now() - 2 * HOUR

    def waiting_on_me() -> list[str]:
        clock.advance(timedelta(minutes=1))
        document = digest(ledger, since=since, agent="human:me")
        return [e["id"] for e in document["waiting"]["escalated_to"]]

    assert waiting_on_me() == [str(silent.id)]
    ledger.add_note(silent.id, by="support_agent", message="saw it too")
    assert waiting_on_me() == [str(silent.id)]  # support_agent has no part in it
    ledger.reply(silent.id, by="human:me", message="where is the update?")
    assert waiting_on_me() == []  # the reply re-armed code_agent's update timer
    clock.advance(HOUR + timedelta(minutes=1))
    assert Reactor(ledger).run_once().steps  # silent again: escalated again
    assert waiting_on_me() == [str(silent.id)]
