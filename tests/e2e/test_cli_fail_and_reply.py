"""``handoff fail`` and ``handoff reply`` through the real console script."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import CLI

from handoff_ledger.adapters.ledger.clock import FileClock

ADMIN_PROTOCOL = """\
[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents."human:boss"]
admin = true
"""


def sent_id(cli: CLI, *extra: str) -> str:
    sent = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", *extra)
    return str(sent["id"])


def test_receiver_needs_help_the_sender_replies_and_the_work_resumes(cli: CLI) -> None:
    hid = sent_id(cli, "--escalate-to", "human:me")
    cli.json("ack", hid, "--as", "code_agent", "--next-update", "30m")
    blocked = cli.json(
        "status", hid, "--as", "code_agent", "--status", "need_help", "--message", "Which DB?"
    )
    assert blocked["state"] == "blocked"

    replied = cli.json(
        "reply", hid, "--as", "inbox_monitor", "--message", "Use PostgreSQL",
        "--data", '{"db": "postgresql"}',
    )  # fmt: skip
    assert replied["state"] == "in_progress"
    assert replied["id"] == hid

    shown = cli.json("show", hid)
    assert shown["state"] == "in_progress"
    assert shown["timers"]["update_due"] is not None  # the receiver owes an update again
    last = shown["history"][-1]
    assert last["type"] == "Replied"
    assert last["by"] == "inbox_monitor"
    assert last["message"] == "Use PostgreSQL"
    assert last["data"] == {"db": "postgresql"}
    assert cli.log()[-1]["type"] == "Replied"


def test_an_escalation_target_replies_and_the_line_reads_like_the_protocol(
    sqlite_cli: CLI,
) -> None:
    hid = sent_id(sqlite_cli, "--escalate-to", "human:me")
    sqlite_cli.json("status", hid, "--as", "code_agent", "--status", "stuck")
    line = sqlite_cli.run("reply", hid, "--as", "human:me", "--message", "Ask Jane").stdout
    assert line.startswith(f"REPLY: human:me → code_agent on inbox_monitor/{hid[:8]}: Ask Jane")
    assert "STATE: in_progress" in line


def test_a_protocol_admin_may_reply_though_neither_sender_nor_target(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    (tmp_path / "handoff.toml").write_text(ADMIN_PROTOCOL, encoding="utf-8")
    sqlite_cli.run("protocol", "apply", "handoff.toml")
    hid = sent_id(sqlite_cli)
    sqlite_cli.json("reply", hid, "--as", "support_agent", "--message", "me too", expect=1)
    replied = sqlite_cli.json("reply", hid, "--as", "human:boss", "--message", "Go ahead")
    assert replied["state"] == "requested"  # a reply acks nothing: the receiver still must


def test_reply_refusals_exit_1_and_write_nothing(sqlite_cli: CLI) -> None:
    hid = sent_id(sqlite_cli, "--escalate-to", "human:me")
    before = sqlite_cli.stored()
    by_receiver = sqlite_cli.json("reply", hid, "--as", "code_agent", "--message", "x", expect=1)
    assert by_receiver["error"]["code"] == "not_permitted"
    uninvolved = sqlite_cli.json("reply", hid, "--as", "support_agent", "--message", "x", expect=1)
    assert uninvolved["error"]["code"] == "not_permitted"
    empty = sqlite_cli.json("reply", hid, "--as", "inbox_monitor", "--message", " ", expect=2)
    assert empty["error"]["code"] == "invalid_input"
    bad_data = sqlite_cli.json(
        "reply", hid, "--as", "inbox_monitor", "--message", "x", "--data", "[1]", expect=2
    )
    assert "data" in bad_data["error"]["message"]
    assert sqlite_cli.stored() == before

    sqlite_cli.json("cancel", hid, "--as", "inbox_monitor", "--reason", "sent twice")
    closed = sqlite_cli.json("reply", hid, "--as", "inbox_monitor", "--message", "x", expect=1)
    assert closed["error"]["code"] == "invalid_state"
    assert "cancelled" in closed["error"]["message"]


def test_the_receiver_fails_after_trying_keeping_what_the_attempt_left(
    cli: CLI, tmp_path: Path
) -> None:
    hid = sent_id(cli)
    left = tmp_path / "attempt.json"
    left.write_text(json.dumps({"tried": ["rollback"], "log": "ERR 42"}), encoding="utf-8")
    failed = cli.json(
        "fail", hid, "--as", "code_agent", "--reason", "the CI runner is gone",
        "--result", f"@{left}",
    )  # fmt: skip
    assert failed["state"] == "failed"
    assert failed["reason"] == "the CI runner is gone"
    assert failed["result"] == {"tried": ["rollback"], "log": "ERR 42"}
    assert failed["closed_at"] is not None
    assert [e["type"] for e in cli.log()] == ["Created", "Acked", "Failed"]  # implicit ack
    again = cli.json("fail", hid, "--as", "code_agent", "--reason", "still", expect=1)
    assert again["error"]["code"] == "invalid_state"


def test_fail_line_reads_like_the_protocol(sqlite_cli: CLI) -> None:
    hid = sent_id(sqlite_cli)
    line = sqlite_cli.run("fail", hid, "--as", "code_agent", "--reason", "no access").stdout
    assert (
        line
        == f"HANDOFF_FAILED: code_agent could not finish inbox_monitor/{hid[:8]} REASON: no access\n"
    )


def test_fail_refusals_exit_1_and_bad_input_exits_2(sqlite_cli: CLI) -> None:
    hid = sent_id(sqlite_cli)
    before = sqlite_cli.stored()
    by_sender = sqlite_cli.json("fail", hid, "--as", "inbox_monitor", "--reason", "x", expect=1)
    assert by_sender["error"]["code"] == "not_permitted"
    empty = sqlite_cli.json("fail", hid, "--as", "code_agent", "--reason", "", expect=2)
    assert empty["error"]["code"] == "invalid_input"
    assert "reason" in empty["error"]["message"]
    bad_result = sqlite_cli.json(
        "fail", hid, "--as", "code_agent", "--reason", "x", "--result", "{oops", expect=2
    )
    assert "result" in bad_result["error"]["message"]
    sqlite_cli.run("fail", hid, "--as", "code_agent", expect=2)  # --reason is required
    assert sqlite_cli.stored() == before


def test_gaps_lists_a_failure_nothing_was_handed_on_from(sqlite_url: str, tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    cli = CLI(sqlite_url, tmp_path, clock)
    hid = sent_id(cli)
    cli.json("fail", hid, "--as", "code_agent", "--reason", "the CI runner is gone")
    clock.advance(timedelta(minutes=5))  # past the grace a follow-up has to appear
    assert cli.json("trace", hid)["broken"] is True
    gaps = cli.json("gaps")
    assert [(b["handoff_id"], b["kind"], b["agent"]) for b in gaps["chains"][0]["breaks"]] == [
        (hid, "not_rerouted", "inbox_monitor")
    ]
