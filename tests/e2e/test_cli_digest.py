"""``handoff digest`` through the real console script: JSON, protocol-style text, bad input."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CLI

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.services.human_times import human_time


def test_digest_after_an_escalation_shows_what_passed_escalated_and_waits(
    store_url: str, tmp_path: Path
) -> None:
    # Every command reads the time from a file: the ack window passes when the test
    # moves the clock, not after a sleep on the wall clock.
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    cli = CLI(store_url, tmp_path, clock)
    silent = cli.json(
        "send", "--from", "inbox_monitor", "--to", "code_agent", "--ack-within", "1s",
        "--escalate-to", "human:me",
    )  # fmt: skip
    since = silent["created_at"]
    mine = cli.json("send", "--from", "support_agent", "--to", "human:me", "--priority", "high")
    done = cli.json("send", "--from", "code_agent", "--to", "support_agent")
    cli.json("complete", done["id"], "--as", "support_agent")
    clock.advance(timedelta(seconds=1))  # the 1 s ack window has passed, just
    fired = cli.json("reactor", "--once")["escalated"]
    assert [(e["id"], e["reason"]) for e in fired] == [(silent["id"], "ack_timeout")]

    digest = cli.json("digest", "--since", since, "--for", "human:me")
    assert digest["window"]["since"] == since
    assert digest["for"] == "human:me"
    assert [(e["type"], e["id"]) for e in digest["passed"]] == [
        ("Created", silent["id"]),
        ("Created", mine["id"]),
    ]
    [escalation] = digest["escalated"]
    assert (escalation["id"], escalation["reason"], escalation["level"]) == (
        silent["id"], "ack_timeout", 1,
    )  # fmt: skip
    assert (escalation["notified"], escalation["state"]) == (["human:me"], "requested")
    assert [(q["id"], q["queue_position"]) for q in digest["waiting"]["queue"]] == [(mine["id"], 1)]
    assert [e["id"] for e in digest["waiting"]["escalated_to"]] == [silent["id"]]
    assert digest["counts"]["created"] == 2
    assert digest["counts"]["escalated"] == 1

    everyone = cli.json("digest", "--since", since)
    assert everyone["counts"]["created"] == 3
    assert everyone["counts"]["completed"] == 1
    assert everyone["waiting"]["open_by_receiver"] == {"code_agent": 1, "human:me": 1}

    text = cli.run("digest", "--since", since, "--for", "human:me").stdout
    lines = text.splitlines()
    # People read times to the whole second (issue 22); --json keeps the microseconds.
    assert lines[0].startswith(f"DIGEST: human:me, {human_time(since)} → ")
    assert "WHAT HAPPENED: 2 events" in lines  # plain words (issue 22 item 10), not PASSED: 2
    assert any(
        line.startswith("  [") and f"CREATED support_agent/{mine['id'][:8]} → human:me" in line
        for line in lines
    )
    assert "ESCALATED: 1 time" in lines
    assert any(
        f"ack_timeout level 1 on inbox_monitor/{silent['id'][:8]} → code_agent, "
        "notified human:me; still not acked, handoff now requested" in line
        for line in lines
    )
    assert "WAITING ON YOU: 2 handoffs" in lines
    queued = lines.index(next(line for line in lines if line.startswith("  QUEUE #1 ")))
    assert f"support_agent/{mine['id'][:8]}" in lines[queued]
    # Under each waiting handoff, the command that settles it (human:me is neither the
    # silent handoff's sender nor an admin here: it may reply, not reassign).
    assert lines[queued + 1] == (
        f"    → handoff ack {mine['id'][:8]} --as human:me   (then complete, decline or fail it)"
    )
    told = lines.index(next(line for line in lines if "ESCALATED TO YOU: " in line))
    assert f"inbox_monitor/{silent['id'][:8]} → code_agent" in lines[told]
    assert lines[told + 1] == (
        f"    → handoff reply {silent['id'][:8]} --as human:me --message TEXT"
        "   (asks code_agent to ack it)"
    )
    assert lines[-1] == (
        "SUMMARY: 2 created, 0 completed, 0 declined, 0 cancelled, 0 reassigned, "
        "1 escalated, 0 follow-ups"
    )
    overview = cli.run("digest", "--since", since).stdout
    assert "DIGEST: everyone, " in overview
    assert "OPEN: code_agent 1, human:me 1" in overview

    # The printed commands, run as printed (upper-case parts filled in), empty the list:
    # the reply answers the escalation; the ack, then the complete, clear the queue.
    fill = {"TEXT": "please ack it", "JSON": '{"ok": true}'}
    ran = []
    for _ in range(3):
        lines = cli.run("digest", "--since", since, "--for", "human:me").stdout.splitlines()
        commands = [line.removeprefix("    → ") for line in lines if line.startswith("    → ")]
        if not commands:
            break
        for command in commands:
            argv = shlex.split(command.split("   (")[0])
            cli.run(*(fill.get(arg, arg) for arg in argv[1:]))
            ran.append(argv[1])
    assert "WAITING ON YOU: nothing" in lines
    assert ran == ["ack", "reply", "complete"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "since: 'yesterday' is not an ISO 8601 time"),
        (["--since", "2026-01-01T00:00:00Z", "--until", "soon"], "until: 'soon' is not an ISO"),
        (
            ["--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"],
            "since: 2026-01-02T00:00:00Z is after the end of the window, until (2026-01-01T00:00:00Z)",
        ),
        (["--since", "2999-01-01T00:00:00Z"], "is after the end of the window, now"),
        (["--since", "2026-01-01T00:00:00Z", "--for", "no one"], "for: 'no one' is not an agent"),
    ],
)
def test_bad_digest_input_is_exit_2_and_writes_nothing(
    sqlite_cli: CLI, args: list[str], message: str
) -> None:
    sqlite_cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    before = sqlite_cli.stored()
    failed = sqlite_cli.json("digest", *args, expect=2)
    assert failed["error"]["code"] == "invalid_input"
    assert message in failed["error"]["message"]
    plain = sqlite_cli.run("digest", *args, expect=2)
    assert plain.stdout == ""
    assert message in plain.stderr
    assert sqlite_cli.stored() == before


def test_digest_for_an_agent_the_protocol_does_not_declare_is_exit_2(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    sqlite_cli.run("protocol", "apply", str(write_file("handoff.toml", SEED_PROTOCOL)))
    failed = sqlite_cli.json(
        "digest", "--since", "2026-01-01T00:00:00Z", "--for", "ghost_agent", expect=2
    )
    assert failed["error"]["code"] == "unknown_agent"
    assert "for: agent 'ghost_agent' is not declared" in failed["error"]["message"]
    known = sqlite_cli.json("digest", "--since", "2026-01-01T00:00:00Z", "--for", "human:me")
    assert known["passed"] == []


def test_digest_without_since_is_a_usage_error(sqlite_cli: CLI) -> None:
    failed = sqlite_cli.json("digest", expect=2)
    assert failed["error"]["code"] == "usage"
    assert "--since" in failed["error"]["message"]


def test_digest_since_takes_a_duration_back_from_now(sqlite_cli: CLI, tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    timed = CLI(sqlite_cli.url, tmp_path, clock)
    early = timed.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    late = timed.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    clock.set(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    digest = timed.json("digest", "--since", "6h")
    assert digest["window"]["since"] == "2026-11-25T09:00:00Z"
    assert {e["id"] for e in digest["passed"]} == {early["id"], late["id"]}
    recent = timed.json("digest", "--since", "2h")
    assert [e["id"] for e in recent["passed"]] == [late["id"]]
    logged = timed.run("log", "--since", "90m", "--json").stdout.splitlines()
    assert [json.loads(line)["handoff_id"] for line in logged] == [late["id"]]
