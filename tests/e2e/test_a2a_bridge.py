"""Remote A2A agents as receivers: ``handoff a2a-bridge`` against an agent built from
``a2a-sdk``'s own server classes (``a2a_remote_agent.py``), in a process of its own.

The remote knows nothing of the ledger; its completion lands in the ledger as the
agent's and routes the protocol's follow-up, its questions become ``need_help`` and
the ledger's replies reach it, a remote that is down is escalated like any other
agent, and a bridge SIGKILLed again and again delivers every handoff once and
records every remote state once. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from a2a_remote import Remote, free_port
from conftest import CLI, HANDOFF

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.services.a2a_bridge import Bridge, BridgePass
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff

HANDOFFS = int(os.environ.get("HANDOFF_A2A_SOAK_HANDOFFS", "40"))
KILLS = int(os.environ.get("HANDOFF_A2A_SOAK_KILLS", "3"))
"""Shortened here; ``bench/a2a_bridge_soak.py`` runs the same test with 200 handoffs."""

PROTOCOL = """
[agents.inbox_monitor]
[agents."human:me"]
[agents.code_agent]
a2a = "http://127.0.0.1:{port}/.well-known/agent-card.json"
a2a_token_env = "CODE_AGENT_A2A_TOKEN"

[kinds.bug_report]
to = "code_agent"
trigger = "Bug report detected"
ack_within = "1h"
payload.required = ["issue"]
escalation = [ {{ on = "ack_timeout", notify = ["human:me"] }} ]
on_complete = {{ kind = "customer_reply", to = "inbox_monitor" }}

[kinds.customer_reply]
"""


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Remote]:
    monkeypatch.setenv("CODE_AGENT_A2A_TOKEN", "a-secret-the-file-never-holds")
    running = Remote(free_port(), tmp_path)
    (tmp_path / "handoff.toml").write_text(PROTOCOL.format(port=running.port))
    try:
        yield running
    finally:
        running.stop()


async def bridge_until(bridge: Bridge, done: Any, passes: int = 100) -> list[BridgePass]:
    """Bridge passes until ``done(reports)`` (the remote works in the background)."""
    reports: list[BridgePass] = []
    for _ in range(passes):
        reports.append(await bridge.run_once())
        if done(reports):
            return reports
        await asyncio.sleep(0.02)
    raise AssertionError(f"not done after {passes} passes: {reports}")


def recorded(reports: list[BridgePass]) -> list[str]:
    return [move for report in reports for _, _, move in report.recorded]


def test_a_remote_agent_down_is_escalated_then_completes_and_routes_the_follow_up(
    store_url: str, tmp_path: Path, remote: Remote
) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    cli = CLI(store_url, tmp_path, clock)
    cli.run("protocol", "apply", "handoff.toml")
    ledger = open_ledger(store_url, clock=clock)
    bridge, reactor = Bridge(ledger), Reactor(ledger)

    async def run() -> None:
        try:
            await scenario(cli, ledger, bridge, reactor, clock, remote)
        finally:
            await bridge.close()

    try:
        asyncio.run(run())
    finally:
        reactor.close()
        ledger.close()


async def scenario(
    cli: CLI, ledger: Ledger, bridge: Bridge, reactor: Reactor, clock: FileClock, remote: Remote
) -> None:
    def send(payload: dict[str, Any]) -> UUID:
        return ledger.send(sender="inbox_monitor", kind="bug_report", payload=payload).handoff.id

    bug = send({"issue": "login"})
    # The remote is down: nothing is delivered, the bridge says why, and the ack
    # timer escalates as for any agent that does not answer.
    down = cli.json("a2a-bridge", "--once")
    assert down["delivered"] == []
    assert down["errors"][0]["about"] == "code_agent"
    clock.advance(timedelta(hours=1, minutes=1))
    assert [(s.handoff_id, s.reason.value) for s in reactor.run_once().steps] == [
        (bug, "ack_timeout")
    ]

    remote.start()
    reports = await bridge_until(bridge, lambda r: "complete" in recorded(r))
    assert [hid for hid, _, _ in reports[0].delivered] == [str(bug)]
    done = ledger.get(bug)
    assert (done.state, done.result) == ("completed", {"fixed": "login"})
    moves = [e for e in ledger.history(bug) if not isinstance(e, Handoff.Escalated)]
    assert {e.by for e in moves[1:]} == {"code_agent"}  # recorded as the remote agent's own
    (follow_up,) = reactor.run_once().follow_ups
    reply = ledger.get(UUID(follow_up))
    assert (reply.kind, reply.receiver, reply.parent_id) == ("customer_reply", "inbox_monitor", bug)
    assert remote.acted_on() == Counter({str(bug): 1})

    # Multi-turn: the remote asks (need_help), the sender's ledger reply reaches it;
    # a remote that rejects the task declines the handoff with its reason.
    asked = send({"issue": "x", "ask": "Which phone?"})
    refused = send({"issue": "y", "refuse": "billing"})
    await bridge_until(bridge, lambda r: {"need_help", "decline"} <= set(recorded(r)))
    assert ledger.get(asked).status_message == "Which phone?"
    rejected = ledger.get(refused)
    assert (rejected.state, rejected.outcome_reason) == ("declined", "not my job: billing")
    ledger.reply(asked, by="inbox_monitor", message="iPhone 15")
    reports = await bridge_until(bridge, lambda r: "complete" in recorded(r))
    assert reports[0].replies[0][0] == str(asked)
    assert ledger.get(asked).result == {"answer": "iPhone 15"}

    # Cancelled in the ledger while the remote waits for input: the remote task is cancelled.
    waiting = send({"issue": "z", "ask": "Which browser?"})
    await bridge_until(bridge, lambda r: "need_help" in recorded(r))
    ledger.cancel(waiting, by="inbox_monitor", reason="duplicate")
    assert (await bridge_until(bridge, lambda r: r[-1].cancelled))[-1].cancelled == [str(waiting)]
    assert remote.acted_on() == Counter(str(h) for h in (bug, asked, refused, waiting))


def wait_for(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def start_bridge(cli: CLI) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [HANDOFF, "a2a-bridge", "--interval", "0.05"],
        cwd=cli.cwd, env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_a_bridge_killed_three_times_delivers_each_handoff_once_and_records_each_state_once(
    store_url: str, tmp_path: Path, remote: Remote
) -> None:
    cli = CLI(store_url, tmp_path)
    cli.run("protocol", "apply", "handoff.toml")
    remote.work_seconds = max(0.5, HANDOFFS / 100)  # long enough to be seen working
    remote.start()
    ledger = open_ledger(cli.url)
    sent: list[str] = []
    bridge: subprocess.Popen[bytes] | None = None

    def send_all() -> None:  # handoffs keep arriving while the bridge is killed
        for n in range(HANDOFFS):
            outcome = ledger.send(sender="inbox_monitor", kind="bug_report", payload={
                "issue": f"bug {n}", "n": n})  # fmt: skip
            sent.append(str(outcome.handoff.id))
            time.sleep(0.05)

    sender = threading.Thread(target=send_all)
    try:
        bridge = start_bridge(cli)
        sender.start()
        lives: list[int] = []  # remote executions when each life of the bridge was killed
        for kill in range(1, KILLS + 1):
            # Each life of the bridge delivers some handoffs, then dies mid-run.
            floor = max(kill * HANDOFFS // (KILLS + 2), (lives or [0])[-1] + 1)
            wait_for(lambda floor=floor: sum(remote.acted_on().values()) >= floor)
            time.sleep(random.uniform(0, 0.05))
            lives.append(sum(remote.acted_on().values()))
            os.kill(bridge.pid, signal.SIGKILL)
            _, stderr = bridge.communicate()
            assert b"Traceback" not in stderr, stderr.decode()
            bridge = start_bridge(cli)  # resumes from the ledger's record
        sender.join()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {ledger.get(UUID(h)).state for h in sent}
            if states == {"completed"}:
                break
            time.sleep(0.2)
        bridge.send_signal(signal.SIGTERM)
        _, stderr = bridge.communicate(timeout=30)
        assert bridge.returncode == 0, stderr.decode()
        events = [entry.event for entry in ledger.read_log()]
    finally:
        if bridge is not None and bridge.poll() is None:
            bridge.kill()
            bridge.communicate()
        ledger.close()

    assert len(sent) == HANDOFFS
    assert lives[-1] < HANDOFFS, lives  # the kills fell while handoffs were still being sent
    assert remote.acted_on() == Counter(dict.fromkeys(sent, 1))  # each reached it, acted on once
    by_code_agent = [e for e in events if getattr(e, "by", None) == "code_agent"]
    moves = Counter((e.originator_id, type(e).__name__) for e in by_code_agent)
    for hid in sent:
        handoff_moves = {kind: n for (h, kind), n in moves.items() if str(h) == hid}
        assert handoff_moves.get("Acked") == 1, (hid, handoff_moves)
        assert handoff_moves.get("Completed") == 1, (hid, handoff_moves)
        assert handoff_moves.get("StatusReported", 0) <= 1, (hid, handoff_moves)  # working once
    assert {type(e) for e in by_code_agent} <= {
        Handoff.Acked, Handoff.StatusReported, Handoff.Completed,
    }  # fmt: skip
    # Whether a remote's `working` is seen at all depends on when the bridge polls (a
    # documented limit, docs/a2a.md): this test asks only that it is recorded at most
    # once (it failed once under a full `make test` asking that it was seen at all).
