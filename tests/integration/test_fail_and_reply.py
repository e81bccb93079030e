"""A handoff can fail, and its sender can answer a receiver who needs help (both stores).

A receiver reports ``need_help`` and promises updates every 30 minutes; the sender
replies; the handoff is back ``in_progress`` and the update timer re-arms from the
reply. A need_help nobody answers is escalated as before. A failed handoff leaves
every queue and timer, and its protocol's ``on_fail`` route hands the work on.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.diagnosis import chain_breaks
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidTransition, NotPermitted
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status
from handoff_ledger.projections.base import from_us

HALF_HOUR = timedelta(minutes=30)

PROTOCOL = """
[agents.inbox_monitor]
[agents.code_agent]
[agents.backup_agent]
[agents."human:me"]
admin = true

[kinds.bug_report]
to = "code_agent"
ack_within = "1h"
escalate_to = ["human:me"]
on_fail = { kind = "bug_report", to = "backup_agent" }
"""


def stuck(ledger: Ledger, clock: SimulatedClock) -> Handoff:
    """A handoff acked with updates every 30 minutes, then reported need_help."""
    sent = ledger.send(sender="inbox_monitor", to="code_agent", escalate_to=["human:me"]).handoff
    ledger.ack(sent.id, by="code_agent", next_update=HALF_HOUR)
    clock.advance(timedelta(minutes=10))
    return ledger.report_status(
        sent.id, by="code_agent", status=Status.NEED_HELP, message="which API key?"
    )


def update_due(views: Views, handoff: Handoff) -> object:
    views.catch_up()
    rows = [t for t in views.read.timers_of([str(handoff.id)]) if t["reason"] == "update_overdue"]
    return from_us(rows[0]["due_us"]) if rows else None


def test_the_sender_answers_need_help_and_the_handoff_resumes(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    blocked = stuck(ledger, clock)
    assert blocked.state.value == "blocked"
    clock.advance(timedelta(minutes=20))  # the update promised at 09:40 is 10 minutes off
    replied = ledger.reply(
        blocked.id, by="inbox_monitor", message="use the staging key", data={"key": "stg"}
    )
    assert replied.state.value == "in_progress"
    assert replied.update_due == clock.now() + HALF_HOUR  # owed again, from the reply
    assert update_due(views, replied) == clock.now() + HALF_HOUR
    assert views.read.handoff(str(replied.id))["state"] == "in_progress"
    queue = views.read.inbox("code_agent")
    assert [(r["handoff_id"], r["state"]) for r in queue] == [(str(replied.id), "in_progress")]
    feed = views.read.notifications("code_agent")
    assert feed[-1]["type"] == "Replied"  # the receiver hears the answer
    reply = ledger.history(replied.id)[-1]
    assert isinstance(reply, Handoff.Replied)
    assert (reply.by, reply.message, reply.data) == (
        "inbox_monitor",
        "use the staging key",
        {"key": "stg"},
    )


def test_only_the_sender_an_escalation_target_or_an_admin_may_reply(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    blocked = stuck(ledger, clock)
    head = ledger.head()
    for agent in ("code_agent", "support_agent"):
        with pytest.raises(NotPermitted):
            ledger.reply(blocked.id, by=agent, message="me too")
    assert ledger.head() == head
    ledger.reply(blocked.id, by="human:me", message="the escalation target answers")
    ledger.reply(blocked.id, by="support_agent", message="an admin token", admin=True)
    ledger.fail(blocked.id, by="code_agent", reason="the key is revoked")
    with pytest.raises(InvalidTransition):
        ledger.reply(blocked.id, by="inbox_monitor", message="too late")


def test_an_unanswered_need_help_is_escalated_and_a_reply_answers_it(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    blocked = stuck(ledger, clock)
    reactor = Reactor(ledger)
    clock.advance(HALF_HOUR + timedelta(minutes=1))  # 09:41: the update is overdue
    report = reactor.run_once()
    assert [(s.reason.value, s.level) for s in report.steps] == [("update_overdue", 1)]
    broken = chain_breaks(ledger, [str(blocked.id)], clock.now())
    assert "escalation_unanswered" in {b.kind.value for b in broken}
    ledger.reply(blocked.id, by="human:me", message="ask the platform team")
    broken = chain_breaks(ledger, [str(blocked.id)], clock.now())
    assert "escalation_unanswered" not in {b.kind.value for b in broken}
    assert reactor.run_once().steps == []  # the re-armed update is not due yet


def test_a_failed_handoff_closes_and_its_on_fail_route_hands_it_on(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    ledger.apply_protocol(PROTOCOL, source="handoff.toml", by="human:me")
    sent = ledger.send(sender="inbox_monitor", kind="bug_report", payload={"x": 1}).handoff
    with pytest.raises(NotPermitted):
        ledger.fail(sent.id, by="inbox_monitor", reason="not the receiver")
    failed = ledger.fail(sent.id, by="code_agent", reason="cannot reproduce", result={"tried": 3})
    assert (failed.state.value, failed.outcome_reason, failed.result) == (
        "failed",
        "cannot reproduce",
        {"tried": 3},
    )
    assert [type(e).__name__ for e in ledger.history(sent.id)] == ["Created", "Acked", "Failed"]
    assert failed.timers() == []
    views = Views(ledger)
    report = Reactor(ledger).run_once()
    assert report.steps == []  # nothing escalates on a failed handoff
    (child_id,) = report.follow_ups
    child = ledger.get(UUID(child_id))
    assert (child.receiver, child.parent_id, child.kind) == ("backup_agent", sent.id, "bug_report")
    assert views.read.inbox("code_agent") == []
    assert views.read.handoff(str(sent.id))["state"] == "failed"
    assert Reactor(ledger).run_once().follow_ups == []  # exactly once
    clock.advance(timedelta(minutes=5))
    broken = chain_breaks(ledger, [str(sent.id), child_id], clock.now())
    assert [b for b in broken if b.handoff_id == sent.id] == []  # its follow-up exists


def test_a_failure_with_no_route_and_no_child_is_a_break(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.fail(sent.id, by="code_agent", reason="out of disk")
    clock.advance(timedelta(minutes=5))
    (found,) = chain_breaks(ledger, [str(sent.id)], clock.now())
    assert (found.kind.value, found.agent) == ("not_rerouted", "inbox_monitor")
    assert "failed by code_agent" in found.message
