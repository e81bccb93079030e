"""A new user's first session, through the real console script, on both stores."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CLI, HANDOFF
from sizes import short_and_full
from start_line import start_together

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL


def test_send_ack_status_complete_then_read_back(cli: CLI) -> None:
    sent = cli.json(
        "send", "--from", "inbox_monitor", "--to", "code_agent", "--trigger", "Bug report detected",
        "--priority", "medium", "--payload", '{"email_id": "msg_123"}', "--ack-within", "1h",
        "--deadline", "4h", "--escalate-to", "human:me",
    )  # fmt: skip
    assert sent["state"] == "requested"
    assert sent["chain_id"] == sent["id"]
    assert sent["duplicate"] is False
    hid = sent["id"]

    acked = cli.json("ack", hid, "--as", "code_agent", "--eta", "2h", "--next-update", "30m")
    assert acked["queue_position"] == 1
    assert acked["eta"] is not None
    assert acked["next_update_due"] is not None

    working = cli.json(
        "status", hid, "--as", "code_agent", "--status", "working", "--message", "repro"
    )
    assert working["state"] == "in_progress"
    done = cli.json("complete", hid, "--as", "code_agent", "--result", '{"fix": "PR #412"}')
    assert done["state"] == "completed"

    entries = cli.log()
    assert [e["type"] for e in entries] == ["Created", "Acked", "StatusReported", "Completed"]
    for entry in entries:
        assert {"position", "at", "type", "handoff_id", "chain_id", "by"} <= set(entry)
        assert entry["handoff_id"] == hid
    assert entries[0]["payload"] == {"email_id": "msg_123"}

    shown = cli.json("show", hid)
    assert shown["state"] == "completed"
    assert shown["result"] == {"fix": "PR #412"}
    assert [h["type"] for h in shown["history"]] == [e["type"] for e in entries]


def test_human_output_reads_like_the_protocol(cli: CLI) -> None:
    sent = cli.run(
        "send", "--from", "inbox_monitor", "--to", "code_agent", "--trigger", "Bug report detected",
        "--payload", '{"email_id": "msg_123"}', "--ack-within", "1h", "--deadline", "4h",
        "--escalate-to", "human:me",
    ).stdout  # fmt: skip
    assert "HANDOFF: inbox_monitor → code_agent" in sent
    assert "TRIGGER: Bug report detected" in sent
    assert "PRIORITY: medium" in sent
    assert "DEADLINE: 4h" in sent
    assert "ESCALATION: If no response in 1h, notify human:me" in sent
    hid = next(line.split()[1] for line in sent.splitlines() if line.startswith("ID: "))
    acked = cli.run("ack", hid, "--as", "code_agent", "--eta", "2h", "--next-update", "30m").stdout
    assert acked.startswith(f"HANDOFF_ACK: code_agent received inbox_monitor/{hid[:8]}")
    assert "STATUS: Added to queue (position 1)" in acked
    assert "NEXT_UPDATE: 30m" in acked
    inbox = cli.run("inbox", "code_agent").stdout
    assert "Queue of code_agent: 1 open" in inbox
    assert hid in inbox


def test_same_key_twice_gives_one_handoff(cli: CLI) -> None:
    first = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--key", "msg_123")
    second = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--key", "msg_123")
    assert second["id"] == first["id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert [e["type"] for e in cli.log()] == ["Created"]


def test_show_as_of_gives_the_state_at_that_time(cli: CLI) -> None:
    hid = cli.json("send", "--from", "a", "--to", "b")["id"]
    time.sleep(0.05)  # two wall-clock instants for a real CLI process; no timer waits on this
    between = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    cli.run("ack", hid, "--as", "b")
    cli.run("complete", hid, "--as", "b")
    past = cli.json("show", hid, "--as-of", between)
    assert past["state"] == "requested"
    assert [h["type"] for h in past["history"]] == ["Created"]
    assert cli.json("show", hid)["state"] == "completed"


def test_protocol_apply_show_and_kind_routing(
    cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    path = write_file("handoff.toml", SEED_PROTOCOL)
    applied = cli.json("protocol", "apply", str(path))
    assert applied["version"] == 1
    assert cli.json("protocol", "show")["kinds"] == [
        "bug_report",
        "customer_reply",
        "final_review",
        "triage",
    ]
    sent = cli.json(
        "send", "--from", "inbox_monitor", "--kind", "bug_report", "--payload",
        '{"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login"}',
    )  # fmt: skip
    assert sent["receiver"] == "code_agent"
    assert sent["protocol_version"] == 1


def test_demo_runs_the_seed_scenario(sqlite_cli: CLI) -> None:
    out = sqlite_cli.run("demo").stdout
    assert "HANDOFF: inbox_monitor → code_agent" in out
    assert "STATUS: Added to queue (position 2)" in out
    assert "THE HANDOFF LOG:" in out
    # Six hours offline: the silent handoffs escalated once each, the chain followed up.
    assert out.count("REACTOR: ESCALATED") == 2
    assert "ack_timeout level 1 → human:me" in out
    assert "update_overdue level 1 → human:me" in out
    assert "REACTOR: FOLLOW_UP customer_reply code_agent → inbox_monitor" in out
    assert "REACTOR: FOLLOW_UP final_review inbox_monitor → support_agent" in out
    assert "WAITING ON YOU: 2" in out
    assert "CHECK: 2 escalation steps, each once; 2 routed completions, 2 follow-ups" in out
    assert "nothing done twice" in out


LOST_RACE_LINE = "lost a race on handoff"
"""The line ``HANDOFF_DEBUG=1`` logs for each race a command lost (and re-ran)."""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["ack", "complete"])
@short_and_full("racers", 4, 10)
def test_cli_processes_racing_on_one_handoff(
    cli: CLI, command: str, racers: int, tmp_path: Path
) -> None:
    """Ten ``handoff`` processes in the soak run, four in ``make test``: one winner."""
    hid = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    cli.run("ack", hid, "--as", "code_agent") if command == "complete" else None
    argvs = []
    for index in range(racers):
        extra = ["--result", json.dumps({"worker": index})] if command == "complete" else []
        argvs.append([command, hid, "--as", "code_agent", *extra])
    # Held at their second clock read: inside the command, the handoff loaded (see
    # tests/start_line.py), so all of them decide on one version.
    env = cli.env() | {"HANDOFF_DEBUG": "1"}  # each logs the races it lost
    procs = start_together(
        [[HANDOFF, *argv] for argv in argvs], env, tmp_path / "gates", hold_at=2, cwd=cli.cwd
    )
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    types = [e["type"] for e in cli.log()]
    # All decided on the same version: all but one collided and re-ran on the winner's state.
    assert sum(proc.stderr.count(LOST_RACE_LINE) for proc in done) == racers - 1
    if command == "ack":
        assert [proc.returncode for proc in done] == [0] * racers
        assert types.count("Acked") == 1
    else:
        assert sorted(proc.returncode for proc in done) == [0] + [1] * (racers - 1)
        assert types.count("Completed") == 1
        losers = [proc.stderr for proc in done if proc.returncode == 1]
        for err in losers:  # each re-ran, was refused, and was told why
            assert "error: lost a race to another command: " in err, err
            assert "it is completed" in err, err


def test_ack_reports_the_position_inbox_shows(cli: CLI) -> None:
    cli.json("send", "--from", "a", "--to", "code_agent")
    cli.json("send", "--from", "a", "--to", "code_agent", "--priority", "critical")
    hid = cli.json("send", "--from", "a", "--to", "code_agent", "--priority", "high")["id"]
    acked = cli.json("ack", hid, "--as", "code_agent")
    inbox = cli.json("inbox", "code_agent")["handoffs"]
    assert acked["queue_position"] == 2
    assert {e["id"]: e["queue_position"] for e in inbox}[hid] == acked["queue_position"]
    assert [e["priority"] for e in inbox] == ["critical", "high", "medium"]


def test_watch_notifications_trace_and_projections(cli: CLI) -> None:
    root = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--ack-within", "1h")
    child = cli.json(
        "send", "--from", "code_agent", "--to", "inbox_monitor", "--parent", root["id"]
    )
    watched = cli.json("watch", root["id"], "--as", "support_agent")
    assert watched == {
        "agent": "support_agent",
        "chain_id": root["chain_id"],
        "watching": True,
        "new": True,
    }
    assert cli.json("watch", child["id"], "--as", "support_agent")["new"] is False
    cli.run(
        "status", root["id"], "--as", "code_agent", "--status", "need_help", "--message", "no logs"
    )
    feed = cli.json("notifications", "support_agent")
    assert [n["type"] for n in feed["notifications"]] == ["Acked", "StatusReported"]
    assert feed["notifications"][1]["detail"]["status"] == "need_help"
    assert (
        cli.json("notifications", "support_agent", "--since", str(feed["next"]))["notifications"]
        == []
    )
    traced = cli.json("trace", child["id"])
    assert [h["id"] for h in traced["handoffs"]] == [root["id"], child["id"]]
    assert traced["handoffs"][1]["parent_id"] == root["id"]
    assert "CHAIN " + root["chain_id"] in cli.run("trace", root["id"]).stdout
    status = cli.json("projections", "status")["views"]
    assert {v["name"] for v in status} == {
        "queues", "timers", "chains", "agents", "notifications", "work",
    }  # fmt: skip
    assert all(v["lag_events"] == 0 for v in status)
    cli.run("projections", "rebuild")
    assert cli.json("trace", child["id"]) == traced
    board = {a["agent"]: a for a in cli.json("agents", "list")["agents"]}
    assert board["code_agent"]["status"] == "need_help"
    assert board["code_agent"]["open_count"] == 1
