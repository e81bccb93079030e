"""The application service on real stores: SQLite file and PostgreSQL, same behaviour."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.domain.errors import (
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    PayloadInvalid,
    UnknownAgent,
    UnknownHandoff,
    UnknownKind,
)
from handoff_ledger.domain.states import State, Status

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def log_types(ledger: Ledger) -> list[str]:
    return [type(entry.event).__name__ for entry in ledger.read_log()]


def test_lifecycle_is_recorded_in_order(ledger: Ledger, clock: SimulatedClock) -> None:
    handoff = ledger.send(
        sender="inbox_monitor", to="code_agent", payload={"x": 1}, ack_within=timedelta(hours=1)
    ).handoff
    clock.advance(timedelta(minutes=1))
    ledger.ack(
        handoff.id, by="code_agent", eta=timedelta(hours=2), next_update=timedelta(minutes=30)
    )
    clock.advance(timedelta(minutes=10))
    ledger.report_status(handoff.id, by="code_agent", status=Status.WORKING, message="on it")
    ledger.add_note(handoff.id, by="support_agent", message="customer pinged")
    clock.advance(timedelta(minutes=10))
    done = ledger.complete(handoff.id, by="code_agent", result={"fix": "PR #1"})
    assert done.state is State.COMPLETED
    assert log_types(ledger) == ["Created", "Acked", "StatusReported", "NoteAdded", "Completed"]
    positions = [entry.position for entry in ledger.read_log()]
    assert positions == sorted(positions)
    stored = ledger.get(handoff.id)
    assert stored.result == {"fix": "PR #1"}
    assert stored.version == 5


def test_wrong_agent_is_refused_and_nothing_is_written(ledger: Ledger) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    with pytest.raises(NotPermitted, match="only its receiver code_agent"):
        ledger.ack(handoff.id, by="support_agent")
    with pytest.raises(NotPermitted, match="only its sender inbox_monitor or an admin"):
        ledger.cancel(handoff.id, by="code_agent", reason="mine now")
    assert log_types(ledger) == ["Created"]


def test_terminal_handoff_refuses_everything_but_notes(ledger: Ledger) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.complete(handoff.id, by="code_agent")
    with pytest.raises(InvalidTransition, match="it is completed"):
        ledger.ack(handoff.id, by="code_agent")
    ledger.add_note(handoff.id, by="human:me", message="checked")
    assert log_types(ledger) == ["Created", "Acked", "Completed", "NoteAdded"]


def test_same_key_twice_gives_one_handoff(ledger: Ledger) -> None:
    first = ledger.send(sender="inbox_monitor", to="code_agent", key="msg_123")
    again = ledger.send(sender="inbox_monitor", to="support_agent", key="msg_123")
    assert not first.duplicate
    assert again.duplicate
    assert again.handoff.id == first.handoff.id
    assert again.handoff.receiver == "code_agent"
    assert log_types(ledger) == ["Created"]


def test_unknown_handoff_is_bad_input(ledger: Ledger) -> None:
    with pytest.raises(UnknownHandoff, match="no handoff has id"):
        ledger.ack(uuid4(), by="code_agent")
    with pytest.raises(InvalidInput, match="parent: no handoff"):
        ledger.send(sender="a", to="b", parent_id=uuid4())


def test_follow_up_joins_the_chain(ledger: Ledger) -> None:
    bug = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    reply = ledger.send(sender="code_agent", to="inbox_monitor", parent_id=bug.id).handoff
    assert reply.chain_id == bug.chain_id
    assert reply.parent_id == bug.id


def test_show_as_of_ignores_later_events(ledger: Ledger, clock: SimulatedClock) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    created_at = clock.now()
    clock.advance(timedelta(minutes=5))
    ledger.ack(handoff.id, by="code_agent")
    acked_at = clock.now()
    clock.advance(timedelta(minutes=5))
    ledger.complete(handoff.id, by="code_agent")
    assert ledger.get(handoff.id, as_of=created_at).state is State.REQUESTED
    assert ledger.get(handoff.id, as_of=acked_at + timedelta(seconds=1)).state is State.ACKED
    assert ledger.get(handoff.id).state is State.COMPLETED
    assert len(ledger.history(handoff.id, as_of=acked_at)) == 2
    with pytest.raises(UnknownHandoff, match="did not exist yet"):
        ledger.get(handoff.id, as_of=created_at - timedelta(seconds=1))


def test_log_since_and_until(ledger: Ledger, clock: SimulatedClock) -> None:
    first = ledger.send(sender="a", to="b").handoff
    clock.advance(timedelta(hours=1))
    middle = clock.now()
    ledger.ack(first.id, by="b")
    clock.advance(timedelta(hours=1))
    ledger.complete(first.id, by="b")
    entries = list(ledger.read_log())
    assert [type(e.event).__name__ for e in ledger.read_log(after=entries[0].position)] == [
        "Acked",
        "Completed",
    ]
    assert [type(e.event).__name__ for e in ledger.read_log(since=middle)] == ["Acked", "Completed"]
    assert [type(e.event).__name__ for e in ledger.read_log(until=middle)] == ["Created", "Acked"]


class TestUnderAProtocol:
    @pytest.fixture(autouse=True)
    def protocol(self, ledger: Ledger) -> None:
        ledger.apply_protocol(SEED_PROTOCOL, source="handoff.toml", by="human:me")

    def test_kind_supplies_route_timers_and_records_protocol_version(self, ledger: Ledger) -> None:
        handoff = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
        assert handoff.receiver == "code_agent"
        assert handoff.ack_within == 3600
        assert handoff.escalate_to == ["human:me"]
        assert handoff.protocol_version == 1

    def test_payload_failing_schema_names_the_field(self, ledger: Ledger) -> None:
        with pytest.raises(PayloadInvalid, match=r"^payload\.customer: required"):
            ledger.send(
                sender="inbox_monitor", kind="bug_report", payload={"email_id": "m", "issue": "x"}
            )
        assert list(ledger.read_log()) == []

    def test_unknown_agents_and_kinds_are_refused(self, ledger: Ledger) -> None:
        with pytest.raises(UnknownAgent, match=r"^to: agent 'ghost'"):
            ledger.send(sender="inbox_monitor", to="ghost")
        with pytest.raises(UnknownAgent, match=r"^from: agent 'stranger'"):
            ledger.send(sender="stranger", to="code_agent")
        with pytest.raises(UnknownKind):
            ledger.send(sender="inbox_monitor", kind="feature_request", to="code_agent")
        assert list(ledger.read_log()) == []

    def test_undeclared_acting_agent_is_bad_input(self, ledger: Ledger) -> None:
        handoff = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
        with pytest.raises(UnknownAgent, match=r"^as: agent 'intruder' is not declared"):
            ledger.ack(handoff.id, by="intruder")
        with pytest.raises(UnknownAgent, match=r"^as: agent 'intruder'"):
            ledger.add_note(handoff.id, by="intruder", message="hi")
        with pytest.raises(NotPermitted):
            ledger.ack(handoff.id, by="support_agent")
        assert log_types(ledger) == ["Created"]

    def test_new_version_applies_to_new_handoffs_only(self, ledger: Ledger) -> None:
        old = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
        second = ledger.apply_protocol(SEED_PROTOCOL + "\n[agents.new_agent]\n", source="v2.toml")
        assert second.version == 2
        new = ledger.send(sender="inbox_monitor", to="new_agent").handoff
        assert (old.protocol_version, new.protocol_version) == (1, 2)
        assert ledger.protocol_version(1).source == "handoff.toml"

    def test_admin_from_protocol_may_cancel(self, ledger: Ledger) -> None:
        handoff = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
        with pytest.raises(NotPermitted):
            ledger.cancel(handoff.id, by="support_agent", reason="no")
        assert ledger.cancel(handoff.id, by="human:me", reason="dup").state is State.CANCELLED

    def test_protocol_is_shared_by_every_process(self, ledger: Ledger, store_url: str) -> None:
        from handoff_ledger.adapters.store.bootstrap import open_ledger

        other = open_ledger(store_url)
        try:
            current = other.protocol_in_force()
            assert current is not None
            assert current.version == 1
            assert "bug_report" in current.protocol.kinds
        finally:
            other.close()


def test_kind_update_every_is_the_default_promise(ledger: Ledger, clock: SimulatedClock) -> None:
    ledger.apply_protocol(
        '[agents.a]\n[agents.b]\n[kinds.k]\nto = "b"\nupdate_every = "45m"\n', source="p.toml"
    )
    handoff = ledger.send(sender="a", kind="k").handoff
    acked = ledger.ack(handoff.id, by="b").handoff
    assert acked.update_due == clock.now() + timedelta(minutes=45)
    other = ledger.send(sender="a", kind="k").handoff
    promised = ledger.ack(other.id, by="b", next_update=timedelta(minutes=5)).handoff
    assert promised.update_due == clock.now() + timedelta(minutes=5)
