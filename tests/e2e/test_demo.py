"""``handoff demo`` shows what it claims (issue 22, item 10), checked against its store.

The demo runs once, as a user runs it (the console script, a SQLite file of its own);
each test reads what it printed and what it wrote:

- the bug report re-sent with its key is one handoff, and nothing new is written;
- three reactors ran, one a ``handoff reactor`` process SIGKILLed mid-run, and still
  every escalation step and every follow-up is in the log once;
- event #1, which ``handoff log`` leaves out, is explained: it is the protocol;
- under each handoff waiting on human:me, a command that, run, settles it;
- the digest counts in plain words.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sqlite3
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CLI, HANDOFF

from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.services.follow_ups import FOLLOW_UP_KEY_PREFIX
from handoff_ledger.adapters.services.reactor_passes import ReactorPasses
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.handoff import Handoff

BACK = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
STEPS = 76
"""The moments the demo's reactors pass at: every five minutes from 09:02 to 15:00
(72), and the four times an agent acts between two of them."""


@dataclass(frozen=True)
class Demo:
    out: str
    db: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    db = tmp_path_factory.mktemp("demo") / "handoff.db"
    done = subprocess.run(
        [HANDOFF, "demo", "--db", f"sqlite:///{db}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return Demo(done.stdout, db)


def events(demo: Demo) -> list[Handoff.Event]:
    ledger = open_ledger(demo.url, create=False)
    try:
        return [entry.event for entry in ledger.read_log()]
    finally:
        ledger.close()


def test_the_bug_report_re_sent_with_its_key_is_one_handoff(demo: Demo) -> None:
    [said] = [line for line in demo.lines() if "re-sends msg_123" in line]
    assert said == (
        "[09:00] inbox_monitor restarts and re-sends msg_123 with the same key: same handoff "
        "inbox_monitor/3e688442, nothing new written (the log still ends at #4)"
    )
    created = [e for e in events(demo) if isinstance(e, Handoff.Created)]
    reports = [e for e in created if e.kind == "bug_report"]
    assert [(e.key, str(e.originator_id)[:8]) for e in reports] == [("msg_123", "3e688442")]
    assert len(created) == 5  # the export, the report, the refund and two follow-ups


def test_three_reactors_one_sigkilled_and_nothing_done_twice(demo: Demo) -> None:
    lines = demo.lines()
    [killed] = [line for line in lines if "SIGKILL to the handoff reactor process" in line]
    # The process was alive until the SIGKILL, and had escalated the export's missed
    # update at 09:27 (it passes first at each step while it lives).
    assert killed == (
        "[09:57] SIGKILL to the handoff reactor process, mid-run (exit -9); it had escalated 1."
        " The two in this process go on."
    )
    ledger = open_ledger(demo.url, create=False)
    try:
        totals = ReactorPasses(ledger, Views(ledger).store).totals()
    finally:
        ledger.close()
    assert totals is not None
    # And the process's: at each of the 12 steps it lived through (09:07 to 09:57, five
    # minutes apart, and 09:30) the demo waits for two of its passes; it may pass more
    # (it loops every 10 ms), but only these are certain, however slow the machine.
    assert totals.passes >= 2 * STEPS + 2 * 12

    logged = events(demo)
    steps = Counter(
        (e.originator_id, e.reason, e.timer_due, e.level, e.repeat)
        for e in logged
        if isinstance(e, Handoff.Escalated)
    )
    assert sorted((str(h)[:8], reason) for h, reason, *_ in steps) == [
        ("3f81aadd", "ack_timeout"), ("6ea8f292", "update_overdue"),
    ]  # fmt: skip
    assert set(steps.values()) == {1}
    follow_ups = Counter(
        e.key for e in logged if isinstance(e, Handoff.Created) and e.parent_id is not None
    )
    assert len(follow_ups) == 2
    assert all((key or "").startswith(FOLLOW_UP_KEY_PREFIX) for key in follow_ups)
    assert set(follow_ups.values()) == {1}
    reactor_lines = [line for line in lines if "REACTOR: " in line]
    assert [line[:30] for line in reactor_lines] == [
        "[09:27] REACTOR: ESCALATED sup", "[10:02] REACTOR: ESCALATED inb",
        "[10:20] REACTOR: FOLLOW_UP cus", "[10:35] REACTOR: FOLLOW_UP fin",
    ]  # fmt: skip
    check = lines.index(next(line for line in lines if line.startswith("CHECK: ")))
    assert lines[check : check + 3] == [
        "CHECK: 2 escalation steps, each once; 2 routed completions, 2 follow-ups; nothing "
        "done twice,",
        "       with three reactors ('reactor' in the log) on the store: two in this process "
        "racing at every",
        "       step, and a handoff reactor process SIGKILLed at 09:57 (it had escalated 1).",
    ]


def test_event_1_is_explained_as_the_protocol(demo: Demo) -> None:
    lines = demo.lines()
    start = lines.index("THE HANDOFF LOG:")
    assert lines[start + 1].startswith(
        "  #1      2026-11-25T08:40:00Z  Protocol        version 1  by human:me  "
        "source=handoff.toml sha256="
    )
    assert lines[start + 2].strip().startswith("↳ #1 is the protocol itself: the rules every")
    assert lines[start + 5].startswith("  #2      2026-11-25T08:40:00Z  Created")
    # It is: the store's first record is the protocol's, and `handoff log` starts at #2.
    with sqlite3.connect(demo.db) as db:
        [(topic,)] = db.execute("SELECT topic FROM stored_events WHERE rowid = 1")
    assert topic.endswith(":ProtocolRecord.Created")
    log = subprocess.run(
        [HANDOFF, "log", "--db", demo.url], capture_output=True, text=True, check=True
    ).stdout
    assert log.startswith("#2 ")


def test_each_handoff_waiting_on_you_comes_with_the_command_that_settles_it(
    demo: Demo, tmp_path: Path
) -> None:
    lines = demo.lines()
    start = lines.index("WAITING ON YOU: 2 handoffs")
    waiting = lines[start + 1 : start + 5]
    assert [line.split(":")[0] for line in waiting[::2]] == ["  ESCALATED TO YOU"] * 2
    assert waiting[1] == (
        "    → handoff reply 6ea8f292 --as human:me --message TEXT"
        "   (asks code_agent for the update it owes)"
    )
    assert waiting[3] == (
        "    → handoff reassign 3f81aadd --as human:me --to AGENT --reason TEXT"
        "   (support_agent never acked it; or cancel it)"
    )
    # Run as printed (upper-case parts filled in), on a copy of the demo's store at
    # 15:05: each command is accepted and takes its handoff off the list.
    shutil.copy(demo.db, tmp_path / "copy.db")
    clock = FileClock(tmp_path / "clock")
    clock.set(BACK.replace(minute=5))
    cli = CLI(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path, clock)
    fill = {"TEXT": "please say where it stands", "AGENT": "backup_agent"}
    for command in waiting[1::2]:
        argv = shlex.split(command.removeprefix("    → ").split("   (")[0])
        assert argv[0] == "handoff"
        cli.run(*(fill.get(arg, arg) for arg in argv[1:]))
    after = cli.run("digest", "--since", "2026-11-25T09:00:00Z", "--for", "human:me").stdout
    assert "WAITING ON YOU: nothing" in after.splitlines()


def test_the_digest_counts_in_plain_words(demo: Demo) -> None:
    lines = demo.lines()
    assert "WHAT HAPPENED: 7 events" in lines
    assert "ESCALATED: 2 times" in lines
    assert not [line for line in lines if "PASSED" in line or "not kept" in line]
    assert any(line.endswith("; still no update, handoff now acked") for line in lines)
    assert any(line.endswith("; still not acked, handoff now requested") for line in lines)


def test_what_the_demo_prints_is_the_same_on_every_run(demo: Demo) -> None:
    """Apart from the temporary folder: every handoff has a key (a fixed id), and each
    step's reactor lines come from the log, whichever reactor won."""
    again = subprocess.run(
        [HANDOFF, "demo"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert normalised(again) == normalised(demo.out)


def normalised(out: str) -> str:
    """The demo's output without the names of its temporary folder and store."""
    out = re.sub(r"sqlite:///\S+", "sqlite:///STORE", out)
    return re.sub(r"/\S*handoff-demo-\w+", "FOLDER", out)
