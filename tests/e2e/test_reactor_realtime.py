"""Real time, real processes: a 2-second ack timer is escalated within 1 s of falling due.

This is the one test that runs on the wall clock, because what it measures is the
reactor's reaction time to the wall clock. It waits for the reactor to do its job
(polling the log), with a generous timeout; the assertion is on the recorded times.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from conftest import CLI, HANDOFF


@pytest.mark.slow
def test_a_two_second_ack_timer_is_escalated_within_one_second(cli: CLI) -> None:
    reactor = subprocess.Popen(
        [HANDOFF, "reactor"],  # the default interval: one pass a second at most
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reactor.stderr is not None
        assert "running" in reactor.stderr.readline()
        sent = cli.json(
            "send", "--from", "inbox_monitor", "--to", "code_agent",
            "--ack-within", "2s", "--escalate-to", "human:me",
        )  # fmt: skip
        due = datetime.fromisoformat(sent["timers"]["ack_due"])
        escalated = None
        deadline = time.monotonic() + 30
        while escalated is None and time.monotonic() < deadline:
            entries = [e for e in cli.log() if e["type"] == "Escalated"]
            escalated = entries[0] if entries else None
            if escalated is None:
                time.sleep(0.2)
        assert escalated is not None, "the reactor did not escalate within 30 s"
        late = (datetime.fromisoformat(escalated["at"]) - due).total_seconds()
        assert 0 <= late <= 1.0, f"escalated {late:.3f} s after the due time"
        assert escalated["notified"] == ["human:me"]
        assert escalated["reason"] == "ack_timeout"
    finally:
        reactor.send_signal(signal.SIGTERM)
        _, err = reactor.communicate(timeout=30)
        assert reactor.returncode == 0, err  # a clean stop on SIGTERM
        assert "Traceback" not in err


def test_failed_webhook_deliveries_show_in_reactor_output_and_projections_status(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    dead = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    protocol = (
        "allow_private_webhooks = true\n"  # loopback: refused without it
        f'[agents.inbox_monitor]\n[agents.code_agent]\n[agents."human:me"]\nwebhook = "{dead}"\n'
    )
    sqlite_cli.run("protocol", "apply", str(write_file("handoff.toml", protocol)))
    hid = sqlite_cli.json("send", "--from", "human:me", "--to", "code_agent")["id"]
    sqlite_cli.run("ack", hid, "--as", "code_agent")
    once = sqlite_cli.run("reactor", "--once")
    assert "WEBHOOK_FAILED: human:me" in once.stderr
    assert "(will retry)" in once.stderr
    assert "0/1 webhooks delivered" in once.stdout
    status = sqlite_cli.json("projections", "status")
    (hook,) = status["webhooks"]
    assert (hook["agent"], hook["delivered"], hook["pending"], hook["failing"]) == (
        "human:me",
        0,
        1,
        1,
    )
    assert "ConnectError" in hook["last_error"]
    table = sqlite_cli.run("projections", "status").stdout
    assert "Webhook deliveries" in table
