"""A long-running process (``serve``, the reactor) and ``handoff protocol apply`` in
another process: the running one's next command is under the new version (issue 24,
item 5: it keeps the protocol between commands)."""

from __future__ import annotations

from pathlib import Path

from handoff_ledger.adapters.store.bootstrap import open_ledger
from tests.e2e.conftest import CLI

FIRST = "[agents.a]\n[agents.b]\n"
SECOND = "[agents.a]\n[agents.b]\n[agents.c]\n"


def test_a_running_ledger_sends_under_a_version_another_process_just_applied(
    cli: CLI, tmp_path: Path
) -> None:
    running = open_ledger(cli.url)
    try:
        assert running.send(sender="a", to="b").handoff.protocol_version is None
        (tmp_path / "first.toml").write_text(FIRST)
        cli.run("protocol", "apply", str(tmp_path / "first.toml"))
        handoff = running.send(sender="a", to="b").handoff
        assert handoff.protocol_version == 1
        (tmp_path / "second.toml").write_text(SECOND)
        cli.run("protocol", "apply", str(tmp_path / "second.toml"))
        assert running.add_note(handoff.id, by="c", message="declared by v2").version == 2
        assert running.send(sender="a", to="c").handoff.protocol_version == 2
    finally:
        running.close()
