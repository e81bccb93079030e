"""The ledger's own names (reactor, ledger, system, ledger:*, system:*) are not for agents.

Before issue 20 anyone could create a token for ``reactor`` or send and act as it,
and write events indistinguishable from the ledger's own escalations and notes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import authenticate
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain import rules
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.tokens import AgentToken, token_hash
from tests.conftest import START
from tests.e2e.conftest import CLI


@pytest.mark.parametrize("name", ["reactor", "ledger", "system", "ledger:audit", "system:x"])
def test_each_reserved_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        rules.require_unreserved(name, "as")


@pytest.mark.parametrize("name", ["reactors", "ledger_bot", "human:ledger", "systems:x"])
def test_names_that_merely_resemble_them_are_not(name: str) -> None:
    rules.require_unreserved(name, "as")


def test_reserved_names_are_refused_for_tokens_senders_and_actors(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    cli = sqlite_cli
    hid = cli.json("send", "--from", "a", "--to", "b")["id"]
    before = cli.stored()
    for args in (
        ("agents", "token", "create", "reactor"),
        ("send", "--from", "ledger", "--to", "b"),
        ("note", hid, "--as", "system", "--message", "m"),
        ("cancel", hid, "--as", "ledger:audit", "--reason", "r"),
        ("watch", hid, "--as", "system:cron"),
    ):
        error = cli.json(*args, expect=2)["error"]
        assert "reserved for the ledger itself" in error["message"], (args, error)
    protocol = write_file("p.toml", "[agents.a]\n[agents.b]\n[agents.reactor]\n")
    error = cli.json("protocol", "apply", str(protocol), expect=2)["error"]
    assert "agents.reactor" in error["message"]
    assert "reserved" in error["message"]
    assert cli.stored() == before  # nothing written by any refused command


def test_reactor_still_escalates_and_notes_as_itself(sqlite_url: str) -> None:
    clock = SimulatedClock(START)
    ledger = open_ledger(sqlite_url, clock=clock)
    try:
        hid = ledger.send(sender="a", to="b", ack_within=_minutes(5)).handoff.id
        clock.advance(_minutes(10))
        Reactor(ledger).run_once()
        ledger.add_ledger_note(hid, by="reactor", message="the ledger's own note")
        history = ledger.history(hid)
        assert [(e.__class__.__name__, e.by) for e in history[1:]] == [
            ("Escalated", "reactor"),
            ("NoteAdded", "reactor"),
        ]
    finally:
        ledger.close()


def test_a_token_stored_for_a_reserved_name_speaks_for_no_one(sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url)
    try:
        secret = "hl_made-before-names-were-reserved"
        hashed = token_hash(secret)
        # As an older version recorded it: AgentToken.issue refuses the name now.
        old = AgentToken._create(
            AgentToken.Issued,
            id=AgentToken.id_for(hashed),
            timestamp=START,
            agent="reactor",
            admin=True,
            by="admin",
            hashed=hashed,
        )
        ledger.save(old)
        assert authenticate(ledger, secret) is None
    finally:
        ledger.close()


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
