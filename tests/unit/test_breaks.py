"""Every way a chain breaks, produced on purpose and diagnosed: pure, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.protocol import FollowUp
from handoff_ledger.domain.states import State, Status
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.breaks import Break, BreakKind, diagnose_chain

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
REPLY = FollowUp(kind="customer_reply", to="inbox_monitor")


class Chain:
    """A few handoffs with their events, built through the aggregate's own commands."""

    def __init__(self) -> None:
        self.handoffs: list[Handoff] = []
        self.histories: dict[object, list[Handoff.Event]] = {}

    def send(self, minutes: int = 0, parent: Handoff | None = None, **options: object) -> Handoff:
        handoff = Handoff.request(
            now=T0 + timedelta(minutes=minutes),
            sender=str(options.pop("sender", "inbox_monitor")),
            receiver=str(options.pop("receiver", "code_agent")),
            parent=parent,
            **options,  # type: ignore[arg-type]
        )
        self.handoffs.append(handoff)
        self.histories[handoff.id] = []
        self.collect(handoff)
        return handoff

    def collect(self, handoff: Handoff) -> None:
        for event in handoff.collect_events():
            assert isinstance(event, Handoff.Event)
            self.histories[handoff.id].append(event)

    def diagnose(
        self, minutes: int, routes: dict[tuple[str, State], FollowUp] | None = None
    ) -> list[Break]:
        """The breaks at T0 + ``minutes``; ``routes``: (kind, outcome) → follow-up."""
        return diagnose_chain(
            self.handoffs,
            self.histories,
            T0 + timedelta(minutes=minutes),
            lambda h: (routes or {}).get((h.kind or "", h.state)),
        )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_chain_that_kept_every_promise_has_no_break() -> None:
    chain = Chain()
    bug = chain.send(
        kind="bug_report", ack_within=timedelta(hours=1), deadline_within=timedelta(hours=4)
    )
    bug.ack(by="code_agent", now=at(2), next_update=timedelta(minutes=30))
    bug.report_status(by="code_agent", now=at(30), status=Status.PROGRESS)
    bug.complete(by="code_agent", now=at(50), result={"fix": "PR #412"})
    chain.collect(bug)
    reply = chain.send(
        50, parent=bug, sender="code_agent", receiver="inbox_monitor", kind="customer_reply"
    )
    reply.complete(by="inbox_monitor", now=at(60))
    chain.collect(reply)
    assert chain.diagnose(600, {("bug_report", State.COMPLETED): REPLY}) == []


def test_sent_but_never_acked_breaks_at_the_ack_due_time_and_names_the_receiver() -> None:
    chain = Chain()
    bug = chain.send(ack_within=timedelta(hours=1))
    assert chain.diagnose(59) == []
    (found,) = chain.diagnose(90)
    assert (found.kind, found.agent, found.at, found.handoff_id) == (
        BreakKind.NEVER_ACKED,
        "code_agent",
        at(60),
        bug.id,
    )
    assert found.rule == "ack within 1h"
    assert "never acked" in found.message


def test_acked_but_silent_past_its_update_time() -> None:
    chain = Chain()
    bug = chain.send()
    bug.ack(by="code_agent", now=at(1), next_update=timedelta(minutes=30))
    chain.collect(bug)
    assert chain.diagnose(30) == []
    (found,) = chain.diagnose(45)
    assert (found.kind, found.agent, found.at) == (BreakKind.SILENT, "code_agent", at(31))
    assert found.rule == "an update every 30m"


def test_an_update_in_time_keeps_the_chain_whole() -> None:
    chain = Chain()
    bug = chain.send()
    bug.ack(by="code_agent", now=at(1), next_update=timedelta(minutes=30))
    bug.report_status(by="code_agent", now=at(25), status=Status.WORKING)
    chain.collect(bug)
    assert chain.diagnose(50) == []


def test_open_after_its_deadline() -> None:
    chain = Chain()
    chain.send(deadline_within=timedelta(hours=4))
    (found,) = chain.diagnose(300)
    assert (found.kind, found.at) == (BreakKind.DEADLINE_MISSED, at(240))


def test_completed_but_its_follow_up_never_created_is_the_reactors_break() -> None:
    chain = Chain()
    bug = chain.send(kind="bug_report")
    bug.complete(by="code_agent", now=at(50))
    bug.add_note(by="reactor", now=at(51), message="follow-up customer_reply not created: x")
    chain.collect(bug)
    (found,) = chain.diagnose(60, {("bug_report", State.COMPLETED): REPLY})
    assert (found.kind, found.agent, found.at) == (BreakKind.FOLLOW_UP_MISSING, "reactor", at(50))
    assert found.rule == "on_complete: hand off customer_reply to inbox_monitor"
    assert "follow-up customer_reply not created: x" in found.message


def test_a_follow_up_gets_a_minute_before_its_absence_is_a_break() -> None:
    chain = Chain()
    bug = chain.send(kind="bug_report")
    bug.complete(by="code_agent", now=at(50))
    chain.collect(bug)
    routes = {("bug_report", State.COMPLETED): REPLY}
    assert chain.diagnose(50, routes) == []
    assert [b.kind for b in chain.diagnose(51, routes)] == [BreakKind.FOLLOW_UP_MISSING]


def test_a_completion_with_no_route_needs_no_follow_up() -> None:
    chain = Chain()
    bug = chain.send()
    bug.complete(by="code_agent", now=at(5))
    chain.collect(bug)
    assert chain.diagnose(60) == []


def test_declined_and_not_rerouted_is_the_senders_break() -> None:
    chain = Chain()
    bug = chain.send()
    bug.decline(by="code_agent", now=at(10), reason="not mine")
    chain.collect(bug)
    (found,) = chain.diagnose(60)
    assert (found.kind, found.agent, found.at) == (BreakKind.NOT_REROUTED, "inbox_monitor", at(10))
    assert "not mine" in found.message


def test_declined_and_rerouted_by_hand_is_whole() -> None:
    chain = Chain()
    bug = chain.send()
    bug.decline(by="code_agent", now=at(10), reason="not mine")
    chain.collect(bug)
    chain.send(11, parent=bug, receiver="support_agent")
    assert chain.diagnose(12) == []


def test_declined_with_a_route_but_no_follow_up_is_a_missing_follow_up() -> None:
    chain = Chain()
    bug = chain.send(kind="bug_report")
    bug.decline(by="code_agent", now=at(10), reason="not mine")
    chain.collect(bug)
    (found,) = chain.diagnose(
        60, {("bug_report", State.DECLINED): FollowUp(kind="triage", to=None)}
    )
    assert found.kind is BreakKind.FOLLOW_UP_MISSING
    assert found.rule == "on_decline: hand off triage"


def escalated_at_62(chain: Chain) -> Handoff:
    """A handoff whose ack was due at 60 and was escalated to human:me at 62."""
    bug = chain.send(ack_within=timedelta(hours=1), escalate_to=["human:me"])
    bug.escalate(
        by="reactor",
        now=at(62),
        reason=EscalationReason.ACK_TIMEOUT,
        notified=["human:me"],
        timer_due=at(60),
    )
    return bug


def test_escalated_with_no_response_names_the_targets() -> None:
    chain = Chain()
    bug = escalated_at_62(chain)
    bug.add_note(by="reactor", now=at(63), message="the ledger's own note is no answer")
    chain.collect(bug)
    kinds = {b.kind: b for b in chain.diagnose(120)}
    assert set(kinds) == {BreakKind.NEVER_ACKED, BreakKind.ESCALATION_UNANSWERED}
    unanswered = kinds[BreakKind.ESCALATION_UNANSWERED]
    assert (unanswered.agent, unanswered.at) == ("human:me", at(62))
    assert unanswered.rule == "ack_timeout escalation, level 1"


def test_any_agent_acting_after_an_escalation_answers_it() -> None:
    chain = Chain()
    bug = escalated_at_62(chain)
    bug.add_note(by="human:me", now=at(70), message="chasing code_agent")
    chain.collect(bug)
    assert [b.kind for b in chain.diagnose(120)] == [BreakKind.NEVER_ACKED]


def test_breaks_come_earliest_first_across_the_chain() -> None:
    chain = Chain()
    first = chain.send(deadline_within=timedelta(hours=2))
    first.ack(by="code_agent", now=at(1))
    first.complete(by="code_agent", now=at(20))
    chain.collect(first)
    second = chain.send(
        20, parent=first, sender="code_agent", receiver="support_agent", ack_within=timedelta(1)
    )
    third = chain.send(5, receiver="backup_agent", deadline_within=timedelta(minutes=30))
    found = chain.diagnose(60 * 24 * 2)
    assert [(b.handoff_id, b.kind) for b in found] == [
        (third.id, BreakKind.DEADLINE_MISSED),
        (second.id, BreakKind.NEVER_ACKED),
    ]
