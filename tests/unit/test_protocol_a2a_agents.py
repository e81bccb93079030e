"""A protocol may declare an agent as a remote A2A agent: its URL and where its token is."""

from __future__ import annotations

import pytest

from handoff_ledger.domain.errors import ProtocolInvalid
from handoff_ledger.domain.protocol import Protocol


def test_an_agent_declared_with_a2a_keeps_its_url_and_token_variable() -> None:
    protocol = Protocol.parse(
        '[agents.code_agent]\na2a = "https://agents.example/code/.well-known/agent-card.json"\n'
        'a2a_token_env = "CODE_AGENT_TOKEN"\n[agents.inbox_monitor]\n'
    )
    code_agent = protocol.agents["code_agent"]
    assert code_agent.a2a == "https://agents.example/code/.well-known/agent-card.json"
    assert code_agent.a2a_token_env == "CODE_AGENT_TOKEN"
    assert protocol.agents["inbox_monitor"].a2a is None


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ('a2a = "ftp://agents.example"', "handoff.toml:2: agents.code_agent.a2a:"),
        ("a2a = 3", "handoff.toml:2: agents.code_agent.a2a:"),
        (
            'a2a = "https://a.example"\na2a_token_env = "not a name"',
            "handoff.toml:3: agents.code_agent.a2a_token_env:",
        ),
        ('a2a_token_env = "TOKEN"', "handoff.toml:2: agents.code_agent.a2a_token_env:"),
    ],
)
def test_a_bad_a2a_entry_is_refused_naming_its_line(entry: str, where: str) -> None:
    with pytest.raises(ProtocolInvalid) as refused:
        Protocol.parse(f"[agents.code_agent]\n{entry}\n")
    assert refused.value.message.startswith(where)
