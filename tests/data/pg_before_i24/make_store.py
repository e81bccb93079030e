"""Make ``store.sql``: a PostgreSQL store written by the code before issue 24 (main at
8389cab, the library's recorder: positions from its sequence under a table lock).

Run with that code's ``handoff`` on PATH (PostgreSQL at 127.0.0.1, user root):

    python make_store.py

It writes, through the CLI, a protocol, handoffs through their lifecycles (one
completed and followed up, one acked and open, one never acked and escalated by the
reactor, a note, a watch), an agent token, and catches the views up; then dumps the
schema ``hl_fixture_before_i24`` with ``pg_dump --inserts`` (plain SQL a test can
replay into a schema of its own) and writes the handoffs' ids and the log's
positions to ``ids.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
SCHEMA = "hl_fixture_before_i24"
BASE = "postgresql://root@127.0.0.1:5432/postgres"
URL = f"{BASE}?schema={SCHEMA}"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLOCK = HERE / "clock"
PROTOCOL = """
[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents."human:me"]

[kinds.bug_report]
to = "code_agent"
ack_within = "1h"
deadline = "4h"
escalation = [ { on = "ack_timeout", notify = ["human:me"] } ]
on_complete = { kind = "customer_reply", to = "inbox_monitor" }

[kinds.customer_reply]
to = "inbox_monitor"
"""


def at(minutes: int) -> None:
    CLOCK.write_text((START + timedelta(minutes=minutes)).isoformat())


def handoff(*args: str) -> dict[str, object]:
    env = {**os.environ, "HANDOFF_DB": URL, "HANDOFF_CLOCK": f"file:{CLOCK}"}
    done = subprocess.run(
        ["handoff", *args, "--json"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[0]) if done.stdout.strip() else {}


def main() -> None:
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    at(0)
    (HERE / "protocol.toml").write_text(PROTOCOL)
    handoff("protocol", "apply", str(HERE / "protocol.toml"))
    handoff("agents", "token", "create", "code_agent")
    done = handoff("send", "--from", "inbox_monitor", "--kind", "bug_report", "--trigger", "a")
    acked = handoff("send", "--from", "inbox_monitor", "--kind", "bug_report", "--trigger", "b")
    silent = handoff("send", "--from", "inbox_monitor", "--kind", "bug_report", "--trigger", "c")
    at(5)
    handoff("ack", str(done["id"]), "--as", "code_agent", "--next-update", "30m")
    handoff("ack", str(acked["id"]), "--as", "code_agent", "--next-update", "30m")
    handoff("note", str(acked["id"]), "--as", "human:me", "--message", "watching this")
    handoff("watch", str(acked["id"]), "--as", "human:me")
    at(20)
    handoff("complete", str(done["id"]), "--as", "code_agent", "--result", '{"fix": "PR 412"}')
    at(70)
    handoff("reactor", "--once")
    handoff("projections", "status")
    log = subprocess.run(
        ["handoff", "log", "--json"],
        env={**os.environ, "HANDOFF_DB": URL},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    positions = [json.loads(line)["position"] for line in log]
    ids = {"done": done["id"], "acked": acked["id"], "silent": silent["id"]}
    (HERE / "ids.json").write_text(json.dumps({**ids, "positions": positions}, indent=1) + "\n")
    dump = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-n", SCHEMA,
         "--inserts", "--no-owner", "--no-privileges"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # pg_dump 15.14+ brackets its output in psql meta-commands (\restrict): not SQL.
    lines = [line for line in dump.splitlines() if not line.startswith("\\")]
    (HERE / "store.sql").write_text("\n".join(lines) + "\n")
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')
    CLOCK.unlink()
    (HERE / "protocol.toml").unlink()


if __name__ == "__main__":
    main()
