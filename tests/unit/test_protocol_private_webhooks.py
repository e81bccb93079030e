"""``allow_private_webhooks``: the protocol's one switch for webhooks on private addresses."""

from __future__ import annotations

import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.domain.errors import ProtocolInvalid
from handoff_ledger.domain.protocol import Protocol

HOOKED = '[agents."human:me"]\nwebhook = "http://127.0.0.1:8765/hook"\n'


def test_private_webhooks_are_off_unless_the_file_says_so() -> None:
    assert Protocol.parse(HOOKED).allow_private_webhooks is False
    assert Protocol.parse(SEED_PROTOCOL).allow_private_webhooks is False  # stored texts too
    allowed = Protocol.parse("allow_private_webhooks = true\n" + HOOKED)
    assert allowed.allow_private_webhooks is True
    assert Protocol.parse("allow_private_webhooks = false\n").allow_private_webhooks is False


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_allow_private_webhooks_must_be_true_or_false(value: str) -> None:
    with pytest.raises(ProtocolInvalid) as refused:
        Protocol.parse(f"name = 'x'\nallow_private_webhooks = {value}\n" + HOOKED, "team.toml")
    assert str(refused.value.message) == (
        "team.toml:2: allow_private_webhooks: must be true or false"
    )
    assert refused.value.line == 2
