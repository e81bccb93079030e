"""The forensics resources over HTTP against a real ``handoff serve``: gaps, replay, audit, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_cli_forensics import TimedCLI
from test_http import AGENTS, Server, start_server, stop


@pytest.fixture
def timed_server(store_url: str, tmp_path: Path) -> Iterator[tuple[Server, TimedCLI]]:
    """``handoff serve`` reading its time from a clock file the test moves."""
    cli = TimedCLI(store_url, tmp_path)
    tokens = cli.issue_tokens(*AGENTS)
    process, url = start_server(cli)
    try:
        yield Server(url=url, tokens=tokens, cli=cli), cli
    finally:
        stop(process)


def test_gaps_replay_audit_and_export_over_http(timed_server: tuple[Server, TimedCLI]) -> None:
    server, cli = timed_server
    with server.client("inbox_monitor") as inbox, server.client("code_agent") as coder:
        kept = inbox.post("/handoffs", json={"to": "code_agent", "payload": {"n": 1}}).json()
        cli.clock.advance(timedelta(seconds=1))
        coder.post(f"/handoffs/{kept['id']}/complete", json={"result": {"ok": True}})
        dropped = inbox.post("/handoffs", json={"to": "code_agent"}).json()
        coder.post(f"/handoffs/{dropped['id']}/decline", json={"reason": "not mine"})
        assert coder.get("/gaps").json()["chains"] == []  # the sender has a minute to re-route
        cli.clock.advance(timedelta(minutes=2))

        gaps = coder.get("/gaps").json()
        assert [c["root"]["id"] for c in gaps["chains"]] == [dropped["id"]]
        assert gaps["chains"][0]["breaks"][0]["kind"] == "not_rerouted"
        chain = coder.get(f"/chains/{dropped['id']}").json()
        assert chain["broken"] is True
        assert chain["breaks"][0]["agent"] == "inbox_monitor"

        then = coder.get("/replay", params={"until": kept["created_at"], "view": "queues"}).json()
        assert [row["id"] for row in then["views"]["queues"]["queue"]] == [kept["id"]]
        unknown = coder.get("/replay", params={"until": kept["created_at"], "view": "nope"})
        assert unknown.status_code == 422
        assert "no view called 'nope'" in unknown.json()["error"]["message"]

        audit = coder.get("/audit").json()
        assert (audit["ok"], audit["handoffs"], audit["guard"]["enabled"]) == (True, 2, True)
        assert coder.get("/audit", params={"id": kept["id"]}).json()["events"] == 3

        export = coder.get("/export", params={"chain": kept["id"]})
        assert export.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert [line["type"] for line in lines] == ["Created", "Acked", "Completed"]
        assert all(line["hash"] for line in lines)
        missing = coder.get("/export", params={"chain": "00000000-0000-0000-0000-000000000007"})
        assert missing.status_code == 404
    with server.client(None) as stranger:
        assert stranger.get("/audit").status_code == 401
