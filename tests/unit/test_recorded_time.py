"""A clock that steps back: a handoff's recorded times never go backwards.

Issue 15, item 8. When the clock reads earlier than a handoff's last event (NTP
stepped it back, or two hosts disagree), the event is recorded at the last event's
time and keeps the clock's reading in ``clamped_from``; events the clock did not
disagree with carry no ``clamped_from`` at all, so they hash as events always did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import event_digest
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.timers import EscalationReason

T10 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


def new_handoff(now: datetime = T10) -> Handoff:
    return Handoff.request(
        now=now,
        sender="inbox_monitor",
        receiver="code_agent",
        ack_within=timedelta(hours=1),
        deadline_within=timedelta(hours=4),
    )


def recomputed_hash(event: Any) -> str:
    """The hash ``handoff audit verify`` recomputes: from the event's stored fields."""
    data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    return event_digest(
        type_name=type(event).__name__,
        handoff_id=event.originator_id,
        version=event.originator_version,
        at=event.timestamp,
        prev_hash=event.prev_hash,
        data=data,
    )


def test_a_step_back_is_recorded_at_the_previous_events_time_with_the_reading_noted() -> None:
    handoff = new_handoff()
    handoff.add_note(by="human:me", now=T10 + timedelta(hours=2), message="at noon")
    handoff.ack(by="code_agent", now=T10 - timedelta(hours=1), next_update=timedelta(minutes=30))
    _, noted, acked = handoff.collect_events()
    assert acked.timestamp == noted.timestamp == T10 + timedelta(hours=2)
    assert acked.clamped_from == T10 - timedelta(hours=1)
    assert handoff.acked_at == T10 + timedelta(hours=2)
    # Timers the event arms count from its recorded time.
    assert handoff.update_due == T10 + timedelta(hours=2, minutes=30)
    assert recomputed_hash(acked) == acked.hash


def test_an_event_the_clock_agrees_with_holds_no_clamped_from() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=T10)
    handoff.complete(by="code_agent", now=T10 + timedelta(minutes=5))
    for event in handoff.collect_events():
        assert "clamped_from" not in vars(event)
        assert event.clamped_from is None
        assert recomputed_hash(event) == event.hash


def test_an_implicit_ack_and_the_completion_share_the_clamped_time() -> None:
    handoff = new_handoff()
    handoff.add_note(by="human:me", now=T10 + timedelta(hours=2), message="at noon")
    handoff.complete(by="code_agent", now=T10 - timedelta(hours=1))
    events = handoff.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "NoteAdded", "Acked", "Completed"]
    for event in events[2:]:
        assert event.timestamp == T10 + timedelta(hours=2)
        assert event.clamped_from == T10 - timedelta(hours=1)


def test_a_reassignment_at_a_clamped_time_restarts_its_timers_from_that_time() -> None:
    handoff = new_handoff()
    handoff.add_note(by="human:me", now=T10 + timedelta(hours=2), message="at noon")
    handoff.reassign(by="inbox_monitor", now=T10, to="support_agent", reason="busy")
    assert handoff.ack_due == T10 + timedelta(hours=3)
    assert handoff.deadline_due == T10 + timedelta(hours=6)


# What the clock may read at each step: anywhere from 6 h before to 6 h after the
# previous reading, so it steps back as often as it moves on.
_STEPS = st.lists(st.integers(min_value=-360, max_value=360), min_size=1, max_size=12)
_COMMANDS = st.lists(
    st.sampled_from(["note", "ack", "status", "reassign", "escalate"]), min_size=1, max_size=12
)


def _act(handoff: Handoff, command: str, now: datetime, turn: int) -> None:
    if command == "ack" and handoff.acked_at is None:
        handoff.ack(by=handoff.receiver, now=now, next_update=timedelta(minutes=30))
    elif command == "status":
        handoff.report_status(by=handoff.receiver, now=now, status=Status.PROGRESS)
    elif command == "reassign":
        to = "support_agent" if handoff.receiver != "support_agent" else "code_agent"
        handoff.reassign(by=handoff.sender, now=now, to=to, reason="rotate")
    elif command == "escalate":
        handoff.escalate(
            by="reactor", now=now, reason=EscalationReason.MANUAL, notified=["human:me"]
        )
    else:
        handoff.add_note(by="human:me", now=now, message=f"note {turn}")


@settings(max_examples=200, deadline=None)
@given(steps=_STEPS, commands=_COMMANDS)
def test_recorded_times_per_handoff_never_go_backwards_whatever_the_clock_does(
    steps: list[int], commands: list[str]
) -> None:
    handoff = new_handoff()
    now = T10
    readings = [now]
    for turn, command in enumerate(commands):
        now += timedelta(minutes=steps[turn % len(steps)])
        readings.append(now)
        _act(handoff, command, now, turn)
    if handoff.is_open:
        handoff.cancel(by=handoff.sender, now=now - timedelta(hours=1), reason="done")
    events = handoff.collect_events()
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    previous = None
    for event in events:
        clamped = event.clamped_from
        if clamped is None:
            assert previous is None or event.timestamp >= previous
        else:
            assert previous is not None
            assert clamped < previous == event.timestamp
        assert recomputed_hash(event) == event.hash
        previous = event.timestamp
    # No recorded time is later than the latest the clock ever read.
    assert times[-1] <= max(readings)
