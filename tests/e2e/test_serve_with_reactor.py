"""``serve --with-reactor``: the reactor inside the server, beside a standalone one.

Timers fall due while both run (a shared file clock moves forward step by step), and
each process is SIGKILLed and restarted during the run: every step fires exactly
once, and the server's own reactor is shown to fire steps alone first.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from tests.e2e.conftest import CLI, HANDOFF
from tests.waiting import eventually

HANDOFFS = 48
STEP = timedelta(minutes=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def escalations(cli: CLI) -> Counter[tuple[str, str, int]]:
    ledger = open_ledger(cli.url, clock=cli.clock)
    try:
        return Counter(
            (str(e.event.originator_id), e.event.reason, e.event.level)
            for e in ledger.read_log()
            if isinstance(e.event, Handoff.Escalated)
        )
    finally:
        ledger.close()


def test_reactor_in_serve_and_a_standalone_one_killed_and_restarted_fire_each_step_once(
    store_url: str, tmp_path: Path
) -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock = FileClock(tmp_path / "clock")
    clock.set(start)
    cli = CLI(store_url, tmp_path, clock)
    cli.issue_tokens("inbox_monitor")
    ledger = open_ledger(store_url, clock=clock)
    try:  # one ack timer falling due every 2.5 simulated minutes, for two hours
        ids = [
            str(
                ledger.send(
                    sender="inbox_monitor",
                    to=f"agent_{n % 4}",
                    ack_within=timedelta(seconds=150 * (n + 1)),
                    escalate_to=["human:me"],
                ).handoff.id
            )
            for n in range(HANDOFFS)
        ]
    finally:
        ledger.close()

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [HANDOFF, "serve", "--port", str(free_port()), "--with-reactor",
             "--reactor-interval", "0.05"],
            env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def reactor() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [HANDOFF, "reactor", "--interval", "0.05"],
            env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def fired() -> int:
        return sum(escalations(cli).values())

    server = serve()
    standalone = None
    try:
        # The server's reactor alone: the first three steps fall due and it fires them.
        clock.set(start + timedelta(minutes=8))
        assert eventually(lambda: fired() >= 3, 60), "serve --with-reactor fired nothing"
        assert fired() == 3
        standalone = reactor()
        kills = {4: "serve", 8: "reactor", 12: "serve", 16: "reactor", 20: "both"}
        for step in range(1, 25):  # two simulated hours, five minutes at a time
            clock.set(start + timedelta(minutes=8) + step * STEP)
            victim = kills.get(step)
            if victim in ("serve", "both"):
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=30)
                server = serve()
            if victim in ("reactor", "both"):
                standalone.send_signal(signal.SIGKILL)
                standalone.wait(timeout=30)
                standalone = reactor()
            time.sleep(0.15)  # pacing simulated time, so steps fall due during the run
        assert eventually(lambda: fired() >= HANDOFFS, 90), f"{fired()} of {HANDOFFS} fired"
        # Both reactors keep running a while more: nothing fires twice.
        time.sleep(1.0)
    finally:
        for process in (server, standalone):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    found = escalations(cli)
    assert set(found) == {(hid, "ack_timeout", 1) for hid in ids}
    assert set(found.values()) == {1}
