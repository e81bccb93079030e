"""The forensics commands as a user runs them: trace, gaps, replay, audit verify, export.

Simulated time is shared with the ``handoff`` processes through ``HANDOFF_CLOCK``, so
promises fall due without any sleeping. The auditor's export checker is the script
of docs/audit.md, run as written.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import CLI

from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.store.urls import parse_store_url

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class TimedCLI(CLI):
    """The CLI on a clock file of its own folder, set to ``START``."""

    clock: FileClock

    def __init__(self, url: str, cwd: Path) -> None:
        super().__init__(url, cwd, FileClock(cwd / "clock"))
        self.clock.set(START)


@pytest.fixture
def timed(store_url: str, tmp_path: Path) -> TimedCLI:
    return TimedCLI(store_url, tmp_path)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def morning(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TimedCLI, dict[str, str]]:
    """One store with :func:`a_morning` in it, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("morning")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/ledger.db"
    else:
        url = f"{request.getfixturevalue('pg_base_url')}?schema=morning_{uuid.uuid4().hex[:10]}"
    cli = TimedCLI(url, folder)
    return cli, a_morning(cli)


def a_morning(cli: TimedCLI) -> dict[str, str]:
    """One handoff done, one never acked (and escalated), one declined; then 2 hours pass."""
    done = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--payload",
                    '{"email_id": "msg_1", "note": "Grüße ✓"}')["id"]  # fmt: skip
    cli.run("ack", done, "--as", "code_agent")
    cli.run("complete", done, "--as", "code_agent", "--result", '{"fix": "PR #412"}')
    ignored = cli.json("send", "--from", "inbox_monitor", "--to", "support_agent",
                       "--ack-within", "30m", "--escalate-to", "human:me")["id"]  # fmt: skip
    declined = cli.json("send", "--from", "support_agent", "--to", "code_agent")["id"]
    cli.run("decline", declined, "--as", "code_agent", "--reason", "not mine")
    cli.clock.advance(timedelta(hours=2))
    cli.run("reactor", "--once")
    return {"done": done, "ignored": ignored, "declined": declined}


def test_trace_shows_where_a_chain_broke_and_gaps_lists_every_broken_chain(
    morning: tuple[TimedCLI, dict[str, str]],
) -> None:
    timed, ids = morning
    text = timed.run("trace", ids["ignored"]).stdout
    assert "BROKEN at 2026-11-25T09:30:00Z" in text
    assert "never_acked" in text
    assert "escalation_unanswered" in text
    assert "owner: support_agent" in text
    assert "owner: human:me" in text
    assert "intact" in timed.run("trace", ids["done"]).stdout
    document = timed.json("trace", ids["ignored"])
    assert [b["kind"] for b in document["breaks"]] == ["never_acked", "escalation_unanswered"]
    before = timed.json("trace", ids["ignored"], "--as-of", "2026-11-25T09:10:00Z")
    assert before["breaks"] == []
    assert before["handoffs"][0]["state"] == "requested"
    gaps = timed.json("gaps")
    assert {c["root"]["id"] for c in gaps["chains"]} == {ids["ignored"], ids["declined"]}
    later = timed.json("gaps", "--since", "2026-11-25T09:31:00Z")
    assert [c["root"]["id"] for c in later["chains"]] == [ids["ignored"]]
    assert "Broken chains: 2" in timed.run("gaps").stdout


def test_replay_until_a_time_shows_the_views_as_they_stood(
    morning: tuple[TimedCLI, dict[str, str]],
) -> None:
    timed, ids = morning
    then = timed.json("replay", "--until", "2026-11-25T09:00:00Z")
    queue = {row["id"]: row for row in then["views"]["queues"]["queue"]}
    assert ids["ignored"] in queue
    assert ids["done"] not in queue
    assert then["overdue"] == []
    now = timed.json("replay", "--until", "2026-11-25T11:00:00Z", "--view", "timers")
    assert set(now["views"]) == {"timers"}
    assert [t["id"] for t in now["overdue"]] == [ids["ignored"]]
    text = timed.run("replay", "--until", iso(timed.clock.now()) or "").stdout
    assert "OVERDUE: 1 broken promises" in text


def test_audit_verify_passes_and_the_export_checks_out_without_this_software(
    morning: tuple[TimedCLI, dict[str, str]],
) -> None:
    timed, ids = morning
    report = timed.json("audit", "verify")
    assert (report["ok"], report["handoffs"], report["problems"]) == (True, 3, [])
    assert "OK: every hash chain is intact." in timed.run("audit", "verify").stdout
    assert timed.json("audit", "verify", ids["done"])["events"] == 3
    export = timed.run("export").stdout
    lines = [json.loads(line) for line in export.splitlines()]
    assert len(lines) == len(timed.log())
    assert all(line["scheme"] == "handoff-ledger/jcs-sha256-v2" for line in lines)
    assert check_export(export).returncode == 0
    one = timed.run("export", "--chain", ids["done"]).stdout.splitlines()
    assert {json.loads(line)["handoff_id"] for line in one} == {ids["done"]}
    forged = export.replace("PR #412", "PR #666")
    failed = check_export(forged)
    assert failed.returncode == 1
    assert "Completed: content does not match its hash" in failed.stdout


def test_audit_verify_names_a_tampered_event_and_exits_1(timed: TimedCLI) -> None:
    done = timed.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    timed.run("complete", done, "--as", "code_agent", "--result", '{"fix": "PR #412"}')
    ids = {"done": done}
    position = tamper(timed.url, done, version=3, old=b"PR #412", new=b"PR #666")
    done = timed.run("audit", "verify", expect=1)
    named = f"ALTERED: handoff {ids['done']} version 3 (Completed, position {position})"
    assert named in done.stdout
    assert "FAILED: 1 problems found." in done.stderr
    report = timed.json("audit", "verify", expect=1)
    assert [(p["problem"], p["handoff_id"], p["version"]) for p in report["problems"]] == [
        ("altered", ids["done"], 3)
    ]


def test_bad_input_to_the_forensics_commands_exits_2_and_says_what(
    morning: tuple[TimedCLI, dict[str, str]],
) -> None:
    timed, _ = morning
    cases = [
        (("replay", "--until", "yesterday"), "until: 'yesterday' is not an ISO 8601 time"),
        (("gaps", "--since", "soon"), "since: 'soon' is not an ISO 8601 time"),
        (("audit", "verify", "not-an-id"), "id"),
        (("audit", "verify", "00000000-0000-0000-0000-000000000007"), "no handoff has id"),
        (("export", "--chain", "00000000-0000-0000-0000-000000000007"), "no handoff or chain"),
        (("trace", "00000000-0000-0000-0000-000000000007", "--as-of", "2026-11-25T09:00:00Z"),
         "no handoff or chain"),
    ]  # fmt: skip
    for args, said in cases:
        done = timed.run(*args, expect=2)
        assert said in done.stderr, (args, done.stderr)
    assert timed.run("replay", expect=2).returncode == 2  # --until is required


def check_export(text: str) -> subprocess.CompletedProcess[str]:
    """docs/audit.md's checker, run as written, on an export."""
    page = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    (script,) = re.findall(r"<!-- verifier -->\n```python\n(.*?)```", page, re.S)
    return subprocess.run(
        [sys.executable, "-c", script], input=text, capture_output=True, text=True, check=False
    )


def tamper(url: str, handoff_id: str, *, version: int, old: bytes, new: bytes) -> int:
    """Rewrite one stored event around the guard, as a database owner could; its position."""
    store = parse_store_url(url)
    if store.backend == "sqlite":
        with sqlite3.connect(store.env["SQLITE_DBNAME"]) as conn:
            (definition,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'hl_events_no_update'"
            ).fetchone()
            conn.execute("DROP TRIGGER hl_events_no_update")
            key = (handoff_id.replace("-", ""), version)
            rowid, state = conn.execute(
                "SELECT rowid, state FROM stored_events WHERE originator_id = ? "
                "AND originator_version = ?",
                key,
            ).fetchone()
            conn.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (state.replace(old, new), rowid),
            )
            # and puts the guard back exactly, so that its check finds nothing amiss
            conn.execute(definition)
        return int(rowid)
    env = store.env
    table = f'"{env["POSTGRES_SCHEMA"]}".ledger_events'
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], user=env["POSTGRES_USER"]
    ) as conn:
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER hl_events_append_only")
        position, state = conn.execute(
            f"SELECT notification_id, state FROM {table} WHERE originator_id = %s "
            "AND originator_version = %s",
            (handoff_id, version),
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            f"UPDATE {table} SET state = %s WHERE notification_id = %s",
            (bytes(state).replace(old, new), position),
        )
        conn.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER hl_events_append_only")
    return int(position)
