"""Every way a chain breaks, produced on purpose through the ledger and the reactor.

``trace`` must say where and why each chain broke (the responsible agent or rule,
and the time), ``gaps`` must list exactly the broken chains, and ``--as-of`` must
diagnose the chain as it stood then. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.queries import chain_document
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.states import Status

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login broken"}


def kinds(views: Views, handoff_id: UUID) -> list[tuple[str, str, str]]:
    """(kind, responsible agent, time) of every break in the chain of ``handoff_id``."""
    document = chain_document(views, handoff_id, None)
    assert document["broken"] == bool(document["breaks"])
    return [(b["kind"], b["agent"], b["at"]) for b in document["breaks"]]


@pytest.fixture
def scenario(ledger: Ledger, clock: SimulatedClock) -> dict[str, Any]:
    """Seven chains, one whole, six broken each its own way, run by a real reactor."""
    ledger.apply_protocol(SEED_PROTOCOL, source="seed")
    reactor = Reactor(ledger)
    t0 = clock.now()
    send = ledger.send
    whole = send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
    ledger.ack(whole.id, by="code_agent", next_update=timedelta(hours=1))
    unanswered = send(
        sender="inbox_monitor",
        to="support_agent",
        ack_within=timedelta(minutes=30),
        escalate_to=["human:me"],
    ).handoff
    answered = send(
        sender="inbox_monitor",
        to="support_agent",
        ack_within=timedelta(minutes=30),
        escalate_to=["human:me"],
    ).handoff
    silent = send(sender="support_agent", to="code_agent").handoff
    ledger.ack(silent.id, by="code_agent", next_update=timedelta(minutes=30))
    no_follow_up = send(sender="inbox_monitor", kind="bug_report", payload=BUG, key="b").handoff
    declined = send(sender="support_agent", to="code_agent").handoff
    late = send(sender="support_agent", to="backup_agent", deadline=timedelta(hours=1)).handoff
    ledger.ack(late.id, by="backup_agent")

    clock.advance(timedelta(minutes=20))
    ledger.complete(whole.id, by="code_agent", result={"reply": "Fixed in PR #412"})
    ledger.complete(no_follow_up.id, by="code_agent", result={"fix": "PR #413"})  # no reply
    ledger.decline(declined.id, by="code_agent", reason="not a code problem")
    reactor.run_once()  # creates the customer reply; cannot create the other one
    reply = next(r for r in Views(ledger).read.chain(str(whole.chain_id)) if r["parent_id"])
    ledger.ack(UUID(reply["handoff_id"]), by="inbox_monitor")
    ledger.complete(UUID(reply["handoff_id"]), by="inbox_monitor")

    clock.advance(timedelta(minutes=20))  # t0 + 40m: both ack timers fell due at t0 + 30m
    reactor.run_once()
    ledger.add_note(answered.id, by="human:me", message="I'll chase support_agent myself")
    review = [
        r for r in Views(ledger).read.chain(str(whole.chain_id)) if r["kind"] == "final_review"
    ]
    ledger.ack(UUID(review[0]["handoff_id"]), by="support_agent", next_update=timedelta(hours=2))
    ledger.report_status(UUID(review[0]["handoff_id"]), by="support_agent", status=Status.WORKING)
    ledger.complete(UUID(review[0]["handoff_id"]), by="support_agent")

    clock.advance(timedelta(hours=2))  # t0 + 2h40m
    reactor.run_once()
    reactor.close()
    return {
        "t0": t0,
        "whole": whole,
        "unanswered": unanswered,
        "answered": answered,
        "silent": silent,
        "no_follow_up": no_follow_up,
        "declined": declined,
        "late": late,
    }


def at(scenario: dict[str, Any], minutes: int) -> str | None:
    return iso(scenario["t0"] + timedelta(minutes=minutes))


def test_each_break_is_diagnosed_with_its_owner_and_time(
    ledger: Ledger, scenario: dict[str, Any]
) -> None:
    views = Views(ledger)
    views.catch_up()
    s = scenario
    assert kinds(views, s["whole"].id) == []
    assert kinds(views, s["unanswered"].id) == [
        ("never_acked", "support_agent", at(s, 30)),
        ("escalation_unanswered", "human:me", at(s, 40)),
    ]
    assert kinds(views, s["answered"].id) == [("never_acked", "support_agent", at(s, 30))]
    assert kinds(views, s["silent"].id)[0] == ("silent", "code_agent", at(s, 30))
    assert kinds(views, s["no_follow_up"].id) == [("follow_up_missing", "reactor", at(s, 20))]
    assert kinds(views, s["declined"].id) == [("not_rerouted", "support_agent", at(s, 20))]
    assert kinds(views, s["late"].id)[0] == ("deadline_missed", "backup_agent", at(s, 60))


def test_each_break_says_why(ledger: Ledger, scenario: dict[str, Any]) -> None:
    views = Views(ledger)
    views.catch_up()
    document = chain_document(views, scenario["no_follow_up"].id, None)
    (found,) = document["breaks"]
    assert found["rule"] == "on_complete: hand off customer_reply to inbox_monitor"
    assert "follow-up customer_reply not created" in found["message"]
    assert "reply" in found["message"]  # the schema's complaint, as the reactor noted it
    (declined,) = chain_document(views, scenario["declined"].id, None)["breaks"]
    assert "not a code problem" in declined["message"]


def test_gaps_lists_exactly_the_broken_chains(ledger: Ledger, scenario: dict[str, Any]) -> None:
    views = Views(ledger)
    views.catch_up()
    document = gaps_document(views, ledger.clock.now())
    broken = {c["root"]["id"] for c in document["chains"]}
    expected = {"unanswered", "answered", "silent", "no_follow_up", "declined", "late"}
    assert broken == {str(scenario[name].id) for name in expected}
    assert document["count"] == 6
    firsts = [c["first_break_at"] for c in document["chains"]]
    assert firsts == sorted(firsts)


def test_gaps_since_a_time_keeps_the_later_breaks(ledger: Ledger, scenario: dict[str, Any]) -> None:
    views = Views(ledger)
    views.catch_up()
    since = scenario["t0"] + timedelta(minutes=35)
    document = gaps_document(views, ledger.clock.now(), since)
    broken = {c["root"]["id"]: [b["kind"] for b in c["breaks"]] for c in document["chains"]}
    assert broken == {
        str(scenario["unanswered"].id): ["escalation_unanswered"],
        str(scenario["silent"].id): ["escalation_unanswered"],
        str(scenario["late"].id): ["deadline_missed", "escalation_unanswered"],
    }


def test_trace_as_of_diagnoses_the_chain_as_it_stood(
    ledger: Ledger, scenario: dict[str, Any]
) -> None:
    views = Views(ledger)
    views.catch_up()
    s = scenario
    before = chain_document(views, s["unanswered"].id, s["t0"] + timedelta(minutes=10))
    assert before["breaks"] == []
    assert before["handoffs"][0]["state"] == "requested"
    between = chain_document(views, s["unanswered"].id, s["t0"] + timedelta(minutes=35))
    assert [b["kind"] for b in between["breaks"]] == ["never_acked"]
    follow = chain_document(views, s["no_follow_up"].id, s["t0"] + timedelta(minutes=10))
    assert follow["breaks"] == []


def test_only_participants_and_admins_answer_a_break(ledger: Ledger, clock: SimulatedClock) -> None:
    """Notes and children stay open to all, but an outsider's do not hide a break."""
    reactor = Reactor(ledger)
    views = Views(ledger)
    escalated = ledger.send(
        sender="inbox_monitor",
        to="support_agent",
        ack_within=timedelta(minutes=30),
        escalate_to=["human:me"],
    ).handoff
    declined = ledger.send(sender="support_agent", to="code_agent").handoff
    ledger.decline(declined.id, by="code_agent", reason="not mine")
    clock.advance(timedelta(minutes=31))
    reactor.run_once()
    ledger.add_note(escalated.id, by="random_agent", message="+1")
    ledger.send(sender="random_agent", to="backup_agent", parent_id=declined.id)
    clock.advance(timedelta(minutes=5))
    views.catch_up()
    assert [k for k, _, _ in kinds(views, escalated.id)] == [
        "never_acked",
        "escalation_unanswered",
    ]
    assert [k for k, _, _ in kinds(views, declined.id)] == ["not_rerouted"]

    ledger.add_note(escalated.id, by="human:me", message="on it")  # an escalation target
    ledger.send(sender="support_agent", to="backup_agent", parent_id=declined.id)  # its sender
    views.catch_up()
    assert [k for k, _, _ in kinds(views, escalated.id)] == ["never_acked"]
    assert kinds(views, declined.id) == []

    other = ledger.send(
        sender="inbox_monitor", to="code_agent", ack_within=timedelta(minutes=30)
    ).handoff
    clock.advance(timedelta(minutes=31))
    reactor.run_once()
    issue_token(ledger, "ops", admin=True)
    ledger.add_note(other.id, by="ops", message="escalated to the on-call")
    views.catch_up()
    assert [k for k, _, _ in kinds(views, other.id)] == ["never_acked"]  # an admin answered
