"""A store written before the input caps still works, deep events and all.

``tests/data/pre_i15/store.db`` was made by the code of commit a460331 (before
issue 15) with ``make_store.py`` beside it. That code accepted a payload nested 500
levels deep and a result nested 300 deep, and from then on could not show its own
log (``handoff log`` stopped at the first of them with a RecursionError). It also
holds 25 escalation targets on one handoff and a sub-microsecond ``ack_within``,
which today's code refuses at its boundary, and an ordinary handoff's lifecycle.

Today's code must open that store, verify every hash chain, rebuild every view, and
read past the deep events on every face: each is shown with its envelope and an
``unreadable`` reason, and every other event with all its fields.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import CLI, HANDOFF
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.http.streams import LogPoll
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger

DATA = Path(__file__).resolve().parent.parent / "data" / "pre_i15"
IDS = json.loads((DATA / "ids.json").read_text())
POSITIONS = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
"""The handoff events' log positions (4 is the watch, not a handoff event)."""
EVENTS = len(POSITIONS)
DEEP_EVENTS = {("Created", 1), ("Completed", 4)}
"""(type, version) of the deep handoff's events too deep to show."""


NEW_VERSIONS = {"queues": 2, "timers": 3, "chains": 2, "agents": 3, "notifications": 3}
"""The views whose projection version is newer than the store's (issue 16; agents 3:
promise accuracy, issue 26; notifications 3: feed details without the hash chain,
issue 25)."""


@pytest.fixture
def store(tmp_path: Path) -> Path:
    copy = tmp_path / "store.db"
    shutil.copy(DATA / "store.db", copy)
    return copy


@pytest.fixture
def cli(store: Path, tmp_path: Path) -> CLI:
    return CLI(f"sqlite:///{store}", tmp_path)


def check_log(entries: list[dict[str, Any]]) -> None:
    """Every event is there, in order; only the deep handoff's deep ones lack fields."""
    assert [e["position"] for e in entries] == POSITIONS
    for entry in entries:
        deep = entry["handoff_id"] == IDS["deep"] and (entry["type"], entry["version"]) in (
            DEEP_EVENTS
        )
        assert ("unreadable" in entry) == deep, entry
        if deep:
            assert "nested more than 128 levels" in entry["unreadable"]
        else:
            assert "prev_hash" in entry or "data" in entry, entry  # its own fields are there


def test_the_cli_verifies_rebuilds_and_reads_past_the_deep_events(cli: CLI) -> None:
    assert cli.json("audit", "verify")["ok"] is True
    before = cli.log()
    check_log(before)

    exported = [json.loads(line) for line in cli.run("export").stdout.splitlines()]
    assert [e["position"] for e in exported] == POSITIONS
    for line in exported:
        unreadable = (line["type"], line["version"]) in DEEP_EVENTS and (
            line["handoff_id"] == IDS["deep"]
        )
        assert (line["data"] is None) == unreadable
        assert line["hash"] is not None

    deep = cli.json("show", IDS["deep"])
    assert deep["state"] == "completed"
    assert (deep["payload"], deep["result"], deep["unreadable"]) == (
        None,
        None,
        ["payload", "result"],
    )
    assert [e["type"] for e in deep["history"]] == ["Created", "NoteAdded", "Acked", "Completed"]
    assert ["unreadable" in e for e in deep["history"]] == [True, False, False, True]
    plain = cli.json("show", IDS["plain"])
    assert plain["payload"] == {"email_id": "msg_1"}
    assert "unreadable" not in plain
    assert plain["result"] == {"fix": "PR #1"}

    feed = cli.json("notifications", "support_agent")["notifications"]
    assert any(n.get("unreadable") for n in feed)  # the deep completion it watched
    notes = cli.json("notifications", "code_agent")["notifications"]
    assert any(n["type"] == "NoteAdded" and n["detail"]["message"] == "seen it" for n in notes)
    assert cli.json("trace", IDS["deep"])["handoffs"][0]["id"] == IDS["deep"]
    assert cli.json("inbox", "code_agent")["total"] == 2  # the 25 targets' and the instant one
    many = next(e for e in before if e.get("trigger") == "many")["handoff_id"]
    assert len(cli.json("show", many)["escalate_to"]) == 25  # over today's cap, kept as stored

    # Views whose code changed since (issue 16: failed handoffs, replies) say so...
    views = {v["name"]: v for v in cli.json("projections", "status")["views"]}
    assert {name for name, v in views.items() if v["stale"]} == set(NEW_VERSIONS)
    assert cli.json("projections", "rebuild")["rebuilt"]
    views = {v["name"]: v for v in cli.json("projections", "status")["views"]}
    assert not any(v["stale"] for v in views.values())  # ...until rebuilt
    assert {name: views[name]["stored_version"] for name in NEW_VERSIONS} == NEW_VERSIONS
    assert cli.log() == before
    assert cli.json("audit", "verify")["ok"] is True


@pytest.fixture
def ledger(store: Path) -> Iterator[Ledger]:
    opened = open_ledger(f"sqlite:///{store}")
    yield opened
    opened.close()


def test_the_http_api_the_stream_and_the_dashboard_read_past_them(ledger: Ledger) -> None:
    admin = {"Authorization": f"Bearer {issue_token(ledger, 'human:me', admin=True)}"}
    with TestClient(create_app(ledger), raise_server_exceptions=False) as http:
        page = http.get("/log", params={"limit": 1000}, headers=admin)
        assert page.status_code == 200, page.text
        check_log(page.json()["entries"])

        shown = http.get(f"/handoffs/{IDS['deep']}", headers=admin)
        assert shown.status_code == 200, shown.text
        assert shown.json()["unreadable"] == ["payload", "result"]

        exported = http.get("/export", headers=admin)
        assert exported.status_code == 200
        assert len(exported.text.splitlines()) == EVENTS

        feed = http.get("/agents/support_agent/notifications", headers=admin)
        assert feed.status_code == 200, feed.text

        for path in (
            "/dashboard/",
            f"/dashboard/chains/{IDS['deep']}",
            "/dashboard/agents/code_agent",
        ):
            answer = http.get(path, headers=admin)
            assert answer.status_code == 200, (path, answer.text[:300])

        service = http.app.state.service  # type: ignore[attr-defined]
        frames = LogPoll(service, 0)()  # what /log/stream sends first
        assert [position for position, _ in frames][:EVENTS] == POSITIONS
        check_log([json.loads(data) for _, data in frames][:EVENTS])


def test_mcp_reads_past_them(cli: CLI, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=HANDOFF, args=["mcp", "--agent", "code_agent"], env=cli.env(), cwd=cli.cwd
    )

    async def scenario() -> None:
        with (tmp_path / "mcp.err").open("a") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                # hashes: the check compares each entry whole, chain fields included
                page = await client.call_tool("read_log", {"limit": 100, "hashes": True})
                assert not page.is_error, page.content
                check_log(page.structured_content["entries"])
                shown = await client.call_tool("get_handoff", {"id": IDS["deep"]})
                assert not shown.is_error, shown.content
                assert shown.structured_content["unreadable"] == ["payload", "result"]

    anyio.run(scenario)
    assert "Traceback" not in (tmp_path / "mcp.err").read_text()
