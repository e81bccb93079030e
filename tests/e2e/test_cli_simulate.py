"""``handoff protocol simulate`` as a user runs it, and ``POST /protocol/simulate``."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from tests.e2e.conftest import CLI

WINDOW = ("--since", "2026-11-25T08:00:00Z", "--until", "2026-11-25T15:30:00Z")
ONE_MINUTE = SEED_PROTOCOL.replace('ack_within = "1h"\ndeadline', 'ack_within = "1m"\ndeadline')


def test_simulate_reports_what_a_tighter_ack_would_have_escalated(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    sqlite_cli.run("demo", "--db", sqlite_cli.url)
    before = sqlite_cli.stored()
    same = tmp_path / "same.toml"
    same.write_text(SEED_PROTOCOL, encoding="utf-8")
    text = sqlite_cli.run("protocol", "simulate", str(same), *WINDOW).stdout
    assert "NO DIFFERENCE" in text

    tighter = tmp_path / "tighter.toml"
    tighter.write_text(ONE_MINUTE, encoding="utf-8")
    document = json.loads(
        sqlite_cli.run("protocol", "simulate", str(tighter), *WINDOW, "--json").stdout
    )
    [added] = document["differences"]
    assert (added["difference"], added["kind"], added["reason"], added["level"]) == (
        "escalation_added", "bug_report", "ack_timeout", 1,
    )  # fmt: skip
    assert added["timer_due"] == "2026-11-25T09:01:00Z"
    assert document["summary"]["by_kind"] == {"escalation_added": 1}
    text = sqlite_cli.run("protocol", "simulate", str(tighter), *WINDOW).stdout
    assert "+ ESCALATION" in text
    assert "DIFFERENCES: 1 (1 escalation_added)" in text
    assert sqlite_cli.stored() == before  # nothing written


def test_simulate_refuses_bad_input_with_exit_2(sqlite_cli: CLI, tmp_path: Path) -> None:
    sqlite_cli.run("demo", "--db", sqlite_cli.url)
    broken = tmp_path / "broken.toml"
    broken.write_text("[kinds.x]\nack_within = 5\n", encoding="utf-8")
    done = sqlite_cli.run("protocol", "simulate", str(broken), *WINDOW, expect=2)
    assert "broken.toml" in done.stderr
    missing = sqlite_cli.run("protocol", "simulate", str(tmp_path / "nope.toml"), *WINDOW, expect=2)
    assert "cannot read" in missing.stderr
    same = tmp_path / "same.toml"
    same.write_text(SEED_PROTOCOL, encoding="utf-8")
    late = sqlite_cli.run("protocol", "simulate", str(same), "--since", "yesterday", expect=2)
    assert "since" in late.stderr


def test_http_simulate_is_for_admins(sqlite_cli: CLI) -> None:
    sqlite_cli.run("demo", "--db", sqlite_cli.url)
    ledger = open_ledger(sqlite_cli.url)
    try:
        body = {"protocol": ONE_MINUTE, "since": WINDOW[1], "until": WINDOW[3]}
        with TestClient(create_app(ledger), raise_server_exceptions=False) as api:
            agent = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
            assert api.post("/protocol/simulate", json=body, headers=agent).status_code == 403
            admin = {"Authorization": f"Bearer {issue_token(ledger, 'human:me', admin=True)}"}
            answer = api.post("/protocol/simulate", json=body, headers=admin)
            assert answer.status_code == 200
            assert answer.json()["summary"]["by_kind"] == {"escalation_added": 1}
            bad = api.post("/protocol/simulate", json={**body, "protocol": "x ="}, headers=admin)
            assert bad.status_code == 422
    finally:
        ledger.close()
