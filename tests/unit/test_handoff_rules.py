"""Every rule of PRODUCT.md's Lifecycle section, checked on the aggregate alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff_ledger.domain.errors import InvalidInput, InvalidTransition, NotPermitted
from handoff_ledger.domain.escalation import Step
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import State, Status
from handoff_ledger.domain.timers import EscalationReason

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_handoff(**overrides: object) -> Handoff:
    arguments: dict[str, object] = {
        "now": T0,
        "sender": "inbox_monitor",
        "receiver": "code_agent",
        "ack_within": timedelta(hours=1),
        "deadline_within": timedelta(hours=4),
        "escalate_to": ["human:me"],
    }
    arguments.update(overrides)
    return Handoff.request(**arguments)  # type: ignore[arg-type]


def event_types(handoff: Handoff) -> list[str]:
    return [type(e).__name__ for e in handoff.collect_events()]


def test_created_handoff_is_requested_with_ack_timer_and_deadline() -> None:
    handoff = new_handoff()
    assert handoff.state is State.REQUESTED
    assert handoff.ack_due == at(60)
    assert handoff.deadline_due == at(240)
    assert handoff.chain_id == handoff.id
    assert event_types(handoff) == ["Created"]


def test_child_joins_its_parents_chain() -> None:
    parent = new_handoff()
    child = new_handoff(sender="code_agent", receiver="inbox_monitor", parent=parent)
    assert child.chain_id == parent.chain_id
    assert child.parent_id == parent.id


def test_same_sender_and_key_always_map_to_the_same_id() -> None:
    first = new_handoff(key="msg_123")
    again = new_handoff(key="msg_123")
    other_sender = new_handoff(key="msg_123", sender="support_agent")
    assert first.id == again.id
    assert other_sender.id != first.id


def test_handing_off_to_oneself_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="cannot hand off to itself"):
        new_handoff(receiver="inbox_monitor")


def test_bad_agent_name_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match=r"^to: 'code agent' is not an agent name"):
        new_handoff(receiver="code agent")


def test_deadline_in_the_past_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="already in the past"):
        new_handoff(deadline_within=None, deadline=at(-1))


def test_only_the_receiver_acks() -> None:
    handoff = new_handoff()
    with pytest.raises(NotPermitted, match="only its receiver code_agent can"):
        handoff.ack(by="support_agent", now=at(1))
    assert event_types(handoff) == ["Created"]


def test_ack_stops_the_ack_timer_and_arms_the_update_timer() -> None:
    handoff = new_handoff()
    assert handoff.ack(
        by="code_agent", now=at(2), eta=timedelta(hours=2), next_update=timedelta(minutes=30)
    )
    assert handoff.state is State.ACKED
    assert handoff.eta == at(122)
    assert handoff.update_due == at(32)
    assert {t.reason for t in handoff.timers()} == {
        EscalationReason.UPDATE_OVERDUE,
        EscalationReason.DEADLINE_MISSED,
    }


def test_second_ack_by_receiver_is_a_no_op() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=at(2), eta=timedelta(hours=2))
    handoff.collect_events()
    assert handoff.ack(by="code_agent", now=at(5), eta=timedelta(hours=9)) is False
    assert handoff.acked_at == at(2)
    assert handoff.eta == at(122)
    assert event_types(handoff) == []


def test_second_ack_is_a_no_op_while_in_progress_too() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=at(2))
    handoff.report_status(by="code_agent", now=at(3), status=Status.WORKING)
    assert handoff.ack(by="code_agent", now=at(4)) is False
    assert handoff.state is State.IN_PROGRESS


@pytest.mark.parametrize("command", ["status", "complete", "decline"])
def test_first_act_without_ack_acks_implicitly_first(command: str) -> None:
    handoff = new_handoff()
    if command == "status":
        handoff.report_status(by="code_agent", now=at(1), status=Status.WORKING)
    elif command == "complete":
        handoff.complete(by="code_agent", now=at(1), result={"ok": True})
    else:
        handoff.decline(by="code_agent", now=at(1), reason="not mine")
    events = handoff.collect_events()
    assert [type(e).__name__ for e in events][:2] == ["Created", "Acked"]
    acked = events[1]
    assert isinstance(acked, Handoff.Acked)
    assert acked.implicit is True


def test_stuck_blocks_and_working_unblocks() -> None:
    handoff = new_handoff()
    handoff.report_status(by="code_agent", now=at(1), status=Status.STUCK, message="no repro")
    assert handoff.state is State.BLOCKED
    handoff.report_status(by="code_agent", now=at(2), status=Status.PROGRESS)
    assert handoff.state is State.IN_PROGRESS


def test_status_without_next_update_rearms_with_the_last_interval() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=at(0), next_update=timedelta(minutes=30))
    handoff.report_status(by="code_agent", now=at(20), status=Status.WORKING)
    assert handoff.update_due == at(50)


@pytest.mark.parametrize("final", ["complete", "decline", "cancel"])
def test_nothing_but_a_note_changes_a_terminal_handoff(final: str) -> None:
    handoff = new_handoff()
    if final == "complete":
        handoff.complete(by="code_agent", now=at(1))
    elif final == "decline":
        handoff.decline(by="code_agent", now=at(1), reason="no")
    else:
        handoff.cancel(by="inbox_monitor", now=at(1), reason="dup")
    handoff.collect_events()
    attempts = [
        lambda: handoff.ack(by="code_agent", now=at(2)),
        lambda: handoff.report_status(by="code_agent", now=at(2), status=Status.WORKING),
        lambda: handoff.complete(by="code_agent", now=at(2)),
        lambda: handoff.decline(by="code_agent", now=at(2), reason="x"),
        lambda: handoff.cancel(by="inbox_monitor", now=at(2), reason="x"),
        lambda: handoff.reassign(by="inbox_monitor", now=at(2), to="backup_agent", reason="x"),
        lambda: handoff.escalate(
            by="reactor", now=at(2), reason=EscalationReason.MANUAL, notified=["human:me"]
        ),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidTransition, match=f"it is {handoff.state.value}"):
            attempt()
    handoff.add_note(by="human:me", now=at(3), message="for the record")
    assert event_types(handoff) == ["NoteAdded"]
    assert handoff.timers() == []


def test_only_sender_or_admin_cancels_or_reassigns() -> None:
    handoff = new_handoff()
    with pytest.raises(NotPermitted, match="only its sender inbox_monitor or an admin"):
        handoff.cancel(by="code_agent", now=at(1), reason="x")
    with pytest.raises(NotPermitted):
        handoff.reassign(by="code_agent", now=at(1), to="backup_agent", reason="x")
    handoff.reassign(by="human:me", now=at(1), to="backup_agent", reason="x", is_admin=True)
    assert handoff.receiver == "backup_agent"


def test_reassign_returns_to_requested_with_fresh_timers() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=at(5), next_update=timedelta(minutes=30))
    handoff.reassign(by="inbox_monitor", now=at(90), to="backup_agent", reason="silent")
    assert handoff.state is State.REQUESTED
    assert handoff.acked_at is None
    assert handoff.update_due is None
    assert handoff.ack_due == at(150)
    assert handoff.deadline_due == at(330)
    with pytest.raises(NotPermitted):
        handoff.ack(by="code_agent", now=at(91))
    assert handoff.ack(by="backup_agent", now=at(91))


def test_absolute_deadline_stands_after_reassign() -> None:
    handoff = new_handoff(deadline_within=None, deadline=at(240))
    handoff.reassign(by="inbox_monitor", now=at(90), to="backup_agent", reason="x")
    assert handoff.deadline_due == at(240)


def test_reassign_to_current_receiver_is_refused() -> None:
    handoff = new_handoff()
    with pytest.raises(InvalidTransition, match="already assigned to code_agent"):
        handoff.reassign(by="inbox_monitor", now=at(1), to="code_agent", reason="x")


def test_anyone_may_add_a_note_without_obligations() -> None:
    handoff = new_handoff()
    timers_before = handoff.timers()
    handoff.add_note(by="support_agent", now=at(1), message="customer called again")
    assert handoff.timers() == timers_before
    assert handoff.state is State.REQUESTED


def test_empty_reason_is_bad_input() -> None:
    handoff = new_handoff()
    with pytest.raises(InvalidInput, match="reason: must not be empty"):
        handoff.decline(by="code_agent", now=at(1), reason="  ")


def test_each_due_timer_escalates_exactly_once_per_step() -> None:
    handoff = new_handoff()
    ack = dict(by="reactor", reason=EscalationReason.ACK_TIMEOUT, notified=["human:me"])
    with pytest.raises(InvalidTransition, match="not due until"):
        handoff.escalate(now=at(59), timer_due=at(60), **ack)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition, match="next step: level 1 repeat 0"):
        handoff.escalate(now=at(61), timer_due=at(60), level=2, **ack)  # type: ignore[arg-type]
    handoff.escalate(
        now=at(61),
        timer_due=at(60),
        next_step=Step(2, 0, at(90)),
        **ack,  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidTransition, match="already escalated at level 1"):
        handoff.escalate(now=at(62), timer_due=at(60), **ack)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition, match="level 2 is not due until"):
        handoff.escalate(now=at(62), timer_due=at(60), level=2, **ack)  # type: ignore[arg-type]
    handoff.escalate(now=at(91), timer_due=at(60), level=2, **ack)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition, match="next step: none"):
        handoff.escalate(now=at(92), timer_due=at(60), level=3, **ack)  # type: ignore[arg-type]
    assert handoff.escalation_count == 2


def test_escalation_of_a_kept_promise_is_refused() -> None:
    handoff = new_handoff()
    handoff.ack(by="code_agent", now=at(30))
    with pytest.raises(InvalidTransition, match="no ack_timeout timer armed"):
        handoff.escalate(
            by="reactor",
            now=at(61),
            reason=EscalationReason.ACK_TIMEOUT,
            notified=["human:me"],
            timer_due=at(60),
        )


def test_due_timers_lists_broken_promises() -> None:
    handoff = new_handoff(priority=Priority.HIGH)
    assert handoff.due_timers(at(59)) == []
    assert [t.reason for t in handoff.due_timers(at(60))] == [EscalationReason.ACK_TIMEOUT]
    reasons = {t.reason for t in handoff.due_timers(at(241))}
    assert reasons == {EscalationReason.ACK_TIMEOUT, EscalationReason.DEADLINE_MISSED}


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda h: h.complete(by="code_agent", now=at(1), result={"k\x00": 1}), "result"),
        (lambda h: h.complete(by="code_agent", now=at(1), result={"k": ["a\x00"]}), "result.k.0"),
        (
            lambda h: h.report_status(
                by="code_agent", now=at(1), status=Status.STUCK, message="\x00"
            ),
            "message",
        ),
        (lambda h: h.add_note(by="x", now=at(1), message="a\x00"), "message"),
        (lambda h: h.decline(by="code_agent", now=at(1), reason="a\x00"), "reason"),
    ],
)
def test_nul_characters_are_refused_before_anything_is_recorded(
    command: object, field: str
) -> None:
    handoff = new_handoff()
    handoff.collect_events()
    with pytest.raises(InvalidInput, match=f"^{field}: must not contain the NUL"):
        command(handoff)  # type: ignore[operator]
    assert handoff.collect_events() == []


def test_times_no_timer_can_hold_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"deadline: .* is out of range"):
        new_handoff(deadline_within=None, deadline=datetime(9999, 12, 31, tzinfo=UTC))
    with pytest.raises(InvalidInput, match=r"payload\.issue: must not contain the NUL"):
        new_handoff(payload={"issue": "a\x00b"})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_numbers_json_cannot_hold_are_refused_before_anything_is_recorded(number: float) -> None:
    with pytest.raises(InvalidInput, match=r"^payload\.a\.0: .* is not a JSON number"):
        new_handoff(payload={"a": [number]})
    handoff = new_handoff()
    handoff.collect_events()
    with pytest.raises(InvalidInput, match=r"^result\.score: .* is not a JSON number"):
        handoff.complete(by="code_agent", now=at(1), result={"score": number})
    assert handoff.collect_events() == []


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("ack", {"by": "support_agent"}),
        ("report_status", {"by": "support_agent", "status": Status.WORKING}),
        ("complete", {"by": "support_agent"}),
        ("fail", {"by": "support_agent", "reason": "x"}),
        ("decline", {"by": "support_agent", "reason": "x"}),
        ("cancel", {"by": "support_agent", "reason": "x"}),
        ("reassign", {"by": "support_agent", "reason": "x", "to": "backup_agent"}),
        ("reply", {"by": "support_agent", "message": "x"}),
        ("take_over", {"by": "support_agent", "worker": "w2"}),
    ],
)
def test_who_you_are_is_refused_before_what_state_it_is_in(
    command: str, arguments: dict[str, object]
) -> None:
    handoff = new_handoff()
    handoff.complete(by="code_agent", now=at(1))
    with pytest.raises(NotPermitted):
        getattr(handoff, command)(now=at(2), **arguments)
    with pytest.raises(InvalidTransition):  # the right agent still meets the state
        handoff.ack(by="code_agent", now=at(2))
