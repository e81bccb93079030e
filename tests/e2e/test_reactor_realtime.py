"""Real time, real processes: a reactor wakes for a timer that falls due before its
next pass, instead of sleeping its whole interval.

This is the one test that runs on the wall clock, because what it measures is the
reactor's reaction to the wall clock. The reactor runs with a 60 s interval and a
3 s ack timer: it must escalate the timer a few seconds after it falls due (the
bound leaves room for a loaded machine), where a reactor that slept its interval
would be a minute late. It waits for the reactor's work (polling the log), and the
assertion is on the recorded times, not on a sleep.
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

INTERVAL = 60
"""Seconds between the reactor's passes when nothing falls due sooner."""

LATE_AT_MOST = 10
"""Seconds after its due time by which the timer must be escalated: a small fraction
of the interval (a reactor that slept it would be ~58 s late), large enough for a
loaded machine (one pass there can take a few seconds)."""


@pytest.mark.slow
def test_a_reactor_wakes_for_a_timer_due_before_its_next_pass(cli: CLI) -> None:
    # Sent first: the reactor's first pass finds it armed and not yet due, and must
    # sleep only until its due time (a timer sent while it sleeps is not known to it).
    sent = cli.json(
        "send", "--from", "inbox_monitor", "--to", "code_agent",
        "--ack-within", "3s", "--escalate-to", "human:me",
    )  # fmt: skip
    due = datetime.fromisoformat(sent["timers"]["ack_due"])
    reactor = subprocess.Popen(
        [HANDOFF, "reactor", "--interval", str(INTERVAL)],
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reactor.stderr is not None
        assert "running" in reactor.stderr.readline()
        escalated = None
        deadline = time.monotonic() + 30
        while escalated is None and time.monotonic() < deadline:
            entries = [e for e in cli.log() if e["type"] == "Escalated"]
            escalated = entries[0] if entries else None
            if escalated is None:
                time.sleep(0.2)
        assert escalated is not None, "the reactor did not escalate within 30 s"
        late = (datetime.fromisoformat(escalated["at"]) - due).total_seconds()
        assert 0 <= late <= LATE_AT_MOST, f"escalated {late:.3f} s after the due time"
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
