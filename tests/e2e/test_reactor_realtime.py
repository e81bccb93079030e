"""Real time, real processes: a 2-second ack timer is escalated within 1 s of falling due.

This is the one test that runs on the wall clock, because what it measures is the
reactor's reaction time to the wall clock. It waits for the reactor to do its job
(polling the log), with a generous timeout; the assertion is on the recorded times.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime

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
