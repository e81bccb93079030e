"""The protocol file: parsed, checked, refused with line and reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.domain.errors import PayloadInvalid, ProtocolInvalid, UnknownAgent, UnknownKind
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.protocol import Protocol


def test_seed_protocol_declares_agents_kinds_routes_and_follow_ups() -> None:
    protocol = Protocol.parse(SEED_PROTOCOL)
    assert set(protocol.agents) == {
        "inbox_monitor", "code_agent", "support_agent", "backup_agent", "human:me",
    }  # fmt: skip
    bug = protocol.kind("bug_report")
    assert bug.to == "code_agent"
    assert bug.priority is Priority.MEDIUM
    assert bug.ack_within == timedelta(hours=1)
    assert bug.deadline == timedelta(hours=4)
    assert bug.escalate_to == ("human:me",)
    assert bug.on_complete is not None
    assert bug.on_complete.kind == "customer_reply"
    assert protocol.is_admin("human:me")
    assert not protocol.is_admin("code_agent")


def test_payload_missing_a_required_field_names_it() -> None:
    bug = Protocol.parse(SEED_PROTOCOL).kind("bug_report")
    with pytest.raises(PayloadInvalid, match=r"^payload\.customer: required") as caught:
        bug.validate_payload({"email_id": "msg_123", "issue": "x"})
    assert caught.value.field == "payload.customer"


def test_payload_field_of_the_wrong_type_names_it() -> None:
    bug = Protocol.parse(SEED_PROTOCOL).kind("bug_report")
    with pytest.raises(PayloadInvalid, match=r"^payload\.customer: 42 is not of type 'string'"):
        bug.validate_payload({"email_id": "m", "issue": "x", "customer": 42})


def test_nested_payload_field_path() -> None:
    text = """
[agents.a]
[agents.b]
[kinds.k]
payload.properties.customer = { type = "object", required = ["email"] }
"""
    kind = Protocol.parse(text).kind("k")
    with pytest.raises(PayloadInvalid) as caught:
        kind.validate_payload({"customer": {"name": "Jane"}})
    assert caught.value.field == "payload.customer.email"


def test_unknown_kind_and_agent_are_named() -> None:
    protocol = Protocol.parse(SEED_PROTOCOL)
    with pytest.raises(UnknownKind, match="'bug_reprot' is not declared"):
        protocol.kind("bug_reprot")
    with pytest.raises(UnknownAgent, match=r"^to: agent 'ghost' is not declared"):
        protocol.agent("ghost", "to")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("[agents.a]\n[kinds.k\n", 2, "not valid TOML"),
        ("[agents.a]\n\n[kinds.k]\nto = \"ghost\"\n", 4, "kinds.k.to: agent 'ghost' is not declared"),
        ("[agents.a]\n[kinds.k]\npriority = \"urgent\"\n", 3, "kinds.k.priority: 'urgent' is not one of"),
        ("[agents.a]\n[kinds.k]\nack_within = \"soon\"\n", 3, "kinds.k.ack_within: 'soon' is not a duration"),
        ("[agents.a]\n[kinds.k]\ndeadlin = \"4h\"\n", 3, "kinds.k.deadlin: unknown key"),
        ("[agent.a]\n", 1, "agent: unknown section"),
        ("[agents.a]\n[kinds.k]\non_complete = { kind = \"nope\" }\n", 3, "kinds.k.on_complete.kind: unknown kind"),
        ("[agents.a]\n[kinds.k]\npayload.type = 12\n", 3, "kinds.k.payload: not a valid JSON Schema"),
        ("[agents.\"bad name\"]\n", 1, "is not an agent name"),
        (
            "[agents.a]\n[kinds.k]\nescalation = [ { on = \"lunch\" } ]\n", 3,
            "kinds.k.escalation.on: 'lunch' is not one of",
        ),
        (
            "[agents.a]\n[kinds.k]\nescalation = [ { after = \"1h\", action = \"reassign\" } ]\n", 3,
            "a reassign action needs `to`",
        ),
    ],
)  # fmt: skip
def test_bad_protocol_file_is_refused_with_line_and_reason(
    text: str, line: int, reason: str
) -> None:
    with pytest.raises(ProtocolInvalid) as caught:
        Protocol.parse(text, "team.toml")
    assert reason in caught.value.message
    assert caught.value.line == line
    assert caught.value.message.startswith(f"team.toml:{line}: ")


def test_escalation_policy_levels_are_read() -> None:
    text = """
[agents.a]
[agents."human:me"]
[agents.backup]
[kinds.k]
escalation = [ { on = "ack_timeout", notify = ["human:me"] },
               { after = "1h", notify = ["human:me"], action = "reassign", to = "backup" } ]
"""
    levels = Protocol.parse(text).kind("k").escalation
    assert levels[0].on is not None
    assert levels[0].on.value == "ack_timeout"
    assert levels[1].after == timedelta(hours=1)
    assert levels[1].action == "reassign"
    assert levels[1].to == "backup"


def test_payload_formats_are_checked() -> None:
    bug = Protocol.parse(SEED_PROTOCOL).kind("bug_report")
    with pytest.raises(
        PayloadInvalid, match=r"^payload\.customer: 'not-an-email' is not a 'email'"
    ):
        bug.validate_payload({"email_id": "m", "issue": "x", "customer": "not-an-email"})
