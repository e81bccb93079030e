"""Human output (issue 22, item 6): one time format, progress only where a person looks.

What people read without ``--json``: times in UTC to the whole second with a ``Z``
(the clock here reads microseconds, which showed through before), a closed handoff's
deadline no longer counting down, ``reactor --once`` naming a follow-up's kind and
route, ``projections rebuild`` ending with a summary line, and progress bars on
stderr only when stderr is a terminal, never in piped output.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from conftest import CLI, HANDOFF, FileClock

from handoff_ledger.adapters.store.bootstrap import open_ledger

PROTOCOL = """\
[agents.inbox_monitor]
[agents.code_agent]

[kinds.bug_report]
to = "code_agent"
deadline = "4h"
on_complete.kind = "customer_reply"
on_complete.to = "inbox_monitor"

[kinds.customer_reply]
to = "inbox_monitor"
"""
START = datetime.fromisoformat("2026-11-25T09:00:00.123456+00:00")
NOT_HUMAN = re.compile(r"T\d\d:\d\d:\d\d(\.\d+|\+00:00)")  # microseconds, or +00:00


def clocked(store_url: str, tmp_path: Path) -> CLI:
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    return CLI(store_url, tmp_path, clock=clock)


def test_people_read_one_time_format_and_piped_output_holds_no_bar(
    store_url: str, tmp_path: Path
) -> None:
    cli = clocked(store_url, tmp_path)
    assert cli.clock is not None
    ledger = open_ledger(store_url, clock=cli.clock)  # the setup, not what is tested
    try:
        ledger.apply_protocol(PROTOCOL, source="handoff.toml", by="human:me")
        hid = str(ledger.send(sender="inbox_monitor", kind="bug_report").handoff.id)
    finally:
        ledger.close()
    cli.clock.advance(timedelta(minutes=30))
    acked = cli.run("ack", hid, "--as", "code_agent", "--next-update", "2h").stdout
    assert "NEXT_UPDATE: 2h (2026-11-25T11:30:00Z)" in acked
    shown = cli.run("show", hid).stdout
    assert "DEADLINE: 3h 30m (2026-11-25T13:00:00Z)" in shown
    cli.clock.advance(timedelta(hours=1))
    ledger = open_ledger(store_url, clock=cli.clock)
    try:
        ledger.complete(UUID(hid), by="code_agent")
    finally:
        ledger.close()
    closed = cli.run("show", hid).stdout
    assert "DEADLINE: 2026-11-25T13:00:00Z (met: closed 2026-11-25T10:30:00Z)" in closed
    assert not NOT_HUMAN.search(acked), acked
    for text in (shown, closed, cli.run("log").stdout):
        assert not NOT_HUMAN.search(text), text
        assert "2026-11-25T09:00:00Z  Created" in text, text  # the clock read 09:00:00.123456

    follow = cli.run("reactor", "--once").stdout
    assert re.search(r"^FOLLOW_UP: customer_reply code_agent → inbox_monitor \(\w{8}, parent ", follow, re.M), follow  # fmt: skip

    # Piped (as here): no bar on either stream, and a rebuild ends with what it did.
    rebuilt = cli.run("projections", "rebuild")
    assert rebuilt.stderr == ""
    summary = r"REBUILT: queues, timers, .* from \d+ events in \d+\.\ds"
    assert re.fullmatch(summary, rebuilt.stdout.strip()), rebuilt.stdout  # and no bar line
    verified = cli.run("audit", "verify")
    exported = cli.run("export")
    assert (verified.stderr, exported.stderr) == ("", "")
    assert {json.loads(line)["handoff_id"] for line in exported.stdout.splitlines()} >= {hid}


def _with_terminal_stderr(cli: CLI, *args: str) -> tuple[str, str]:
    """Run ``handoff ARGS`` with stdout piped and stderr a terminal: (stdout, terminal)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [HANDOFF, *args], stdout=subprocess.PIPE, stderr=secondary, cwd=cli.cwd,
        env=cli.env() | {"TERM": "xterm"}, text=True,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    with process:
        stdout = process.stdout.read() if process.stdout else ""
    assert process.returncode == 0, seen
    return stdout, seen.decode(errors="replace")


def test_progress_goes_to_stderr_when_it_is_a_terminal(sqlite_url: str, tmp_path: Path) -> None:
    cli = CLI(sqlite_url, tmp_path)
    cli.run("send", "--as", "inbox_monitor", "--to", "code_agent")
    for args, bar in (
        (("projections", "rebuild", "queues"), "rebuilding queues"),
        (("audit", "verify"), "verifying hash chains"),
        (("export",), "exporting"),
    ):
        stdout, terminal = _with_terminal_stderr(cli, *args)
        assert bar in terminal, (args, terminal)
        assert bar not in stdout, (args, stdout)
        assert "━" not in stdout, (args, stdout)
