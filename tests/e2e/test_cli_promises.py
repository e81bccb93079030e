"""Promise accuracy as people read it: ``agents list``, the digest's line, ``ack``'s
suggested ETA (issue 26), through the real console script on a file clock.

code_agent takes three bug reports, each acked at :00 with ``--eta 1h --next-update
1h`` and completed 40, 50 and 70 minutes later: two ETAs and two update promises
kept, one of each 10 minutes late. Its ack→completion times (40, 50, 70 min) make the
median it is offered as an ETA for the next bug report: 50m.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import CLI

from handoff_ledger.adapters.ledger.clock import FileClock

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _history(cli: CLI, clock: FileClock) -> None:
    for minutes in (40, 50, 70):
        sent = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "bug")
        cli.json("ack", sent["id"], "--as", "code_agent", "--eta", "1h", "--next-update", "1h")
        clock.advance(timedelta(minutes=minutes))
        cli.json("complete", sent["id"], "--as", "code_agent")
        clock.advance(timedelta(minutes=5))


def test_agents_list_digest_and_ack_say_how_promises_were_kept(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    cli = CLI(sqlite_cli.url, tmp_path, clock)
    _history(cli, clock)

    board = cli.run("agents", "list").stdout
    agents, promises = board.split("Promises (kept %: on time; lateness: of the late ones)")
    [row] = [line for line in agents.splitlines() if line.startswith("│ code_agent ")]
    assert "ETAs 66.7% (2 of 3), updates 66.7% (2 of 3)" in row
    lines = [re.sub(r"\s*│\s*", "|", line).strip("|") for line in promises.splitlines()]
    assert "code_agent|bug|eta|66.7% (2 of 3)|1|0|10m|10m|- - - - - - 66.7%" in lines
    assert "code_agent|bug|update|66.7% (2 of 3)|1|0|10m|10m|- - - - - - 66.7%" in lines

    digest = cli.run("digest", "--since", "2026-11-25T00:00:00Z").stdout.splitlines()
    at = digest.index("PROMISES (settled in the window):")
    assert digest[at + 1] == (
        "  code_agent kept 66.7% of its ETAs (2 of 3) and 66.7% of its update promises (2 of 3)"
    )
    assert digest[-1].startswith("SUMMARY: ")
    quiet = cli.run("digest", "--since", "2026-11-25T00:00:00Z", "--for", "inbox_monitor")
    assert "PROMISES" not in quiet.stdout  # it promised nothing

    fourth = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "bug")
    acked = cli.run("ack", fourth["id"], "--as", "code_agent").stdout.splitlines()
    assert acked[0].startswith("HANDOFF_ACK: code_agent received ")
    assert "ETA: not given" in acked[0]  # suggested, never set
    assert acked[1] == (
        "SUGGESTED_ETA: 50m, the median time to complete of your last 3 bug handoffs;"
        f" not promised: promise it with handoff status {fourth['id'][:8]} --as code_agent"
        " --status working --eta 50m"
    )
    shown = cli.json("show", fourth["id"])
    assert shown["eta"] is None

    fifth = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "bug")
    document = cli.json("ack", fifth["id"], "--as", "code_agent")
    assert document["eta"] is None
    assert document["suggested_eta"] == {
        "eta": "50m",
        "seconds": 3000,
        "kind": "bug",
        "from_handoffs": 3,
        "basis": "median time from ack to completion",
    }
    again = cli.json("ack", fifth["id"], "--as", "code_agent")  # already acked: no advice
    assert again["suggested_eta"] is None

    promised = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "bug")
    given = cli.json("ack", promised["id"], "--as", "code_agent", "--eta", "2h")
    assert given["suggested_eta"] is None
    other = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "refund")
    unknown = cli.run("ack", other["id"], "--as", "code_agent").stdout
    assert "SUGGESTED_ETA" not in unknown  # no refund history
