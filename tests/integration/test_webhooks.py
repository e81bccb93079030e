"""Webhook delivery: every broadcast reaches a flaky receiver, which dedupes by header."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.webhooks import backoff
from handoff_ledger.domain.states import Status


class Receiver:
    """A loopback HTTP endpoint that fails its first ``failures`` requests with a 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.requests.append((self.headers["Idempotency-Key"], body))
                    failing = receiver.failures > 0
                    receiver.failures -= 1
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def deduped(self) -> dict[str, dict[str, Any]]:
        """What a receiver that dedupes by ``Idempotency-Key`` keeps: one body per key."""
        with self.lock:
            return {key: body for key, body in self.requests}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky() -> Iterator[Receiver]:
    receiver = Receiver(failures=5)
    yield receiver
    receiver.close()


def protocol(human_hook: str, support_hook: str) -> str:
    return f"""
allow_private_webhooks = true  # the receivers are on loopback
[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
webhook = "{support_hook}"
[agents."human:me"]
webhook = "{human_hook}"
"""


def test_a_flaky_receiver_gets_every_broadcast_and_dedupes_by_header(
    ledger: Ledger, clock: SimulatedClock, flaky: Receiver
) -> None:
    dead = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, every POST fails
    ledger.apply_protocol(protocol(flaky.url, dead), source="handoff.toml", by="human:me")
    reactor = Reactor(ledger)
    try:
        first = ledger.send(
            sender="human:me", to="code_agent", ack_within=timedelta(minutes=5)
        ).handoff
        second = ledger.send(
            sender="inbox_monitor",
            to="support_agent",
            ack_within=timedelta(minutes=5),
            escalate_to=["human:me"],
        ).handoff
        ledger.ack(first.id, by="code_agent", next_update=timedelta(minutes=30))
        ledger.report_status(first.id, by="code_agent", status=Status.STUCK, message="no repro")
        pass_one = reactor.run_once()
        # The dead endpoint fails, but never holds up the live one.
        assert {a.agent for a in pass_one.deliveries if not a.delivered} >= {"support_agent"}
        for _ in range(12):  # hours of simulated time: timers fire, retries come due
            clock.advance(timedelta(minutes=7))
            reactor.run_once()
        ledger.complete(first.id, by="code_agent", result={"fix": "PR #7"})
        for _ in range(10):
            clock.advance(backoff(10))
            reactor.run_once()
        feed = reactor.views.read.notifications("human:me", limit=1000)
        expected = {f"{row['handoff_id']}:{row['position']}" for row in feed}
        assert len(expected) >= 5  # acks, status, escalation of `second`, completion
        kept = flaky.deduped()
        assert set(kept) == expected  # every broadcast arrived; nothing else did
        retried = Counter(key for key, _ in flaky.requests)
        assert max(retried.values()) > 1  # the first deliveries failed and were retried
        assert sum(retried.values()) == len(expected) + 5  # each failure retried once more
        completed = [b for b in kept.values() if b["notification"]["type"] == "Completed"]
        assert completed[0]["notification"]["id"] == str(first.id)
        assert completed[0]["agent"] == "human:me"
        status = {s.agent: s for s in reactor.deliveries.status()}
        assert status["human:me"].pending == 0
        assert status["human:me"].delivered == len(expected)
        assert status["support_agent"].failing == status["support_agent"].pending > 0
        assert "ConnectError" in (status["support_agent"].last_error or "")
        # The support agent's feed, `second` included, waits for its endpoint to return.
        waiting = reactor.views.read.notifications("support_agent", limit=1000)
        assert str(second.id) in {row["handoff_id"] for row in waiting}
        assert status["support_agent"].pending == len(waiting)
    finally:
        reactor.close()


def test_two_reactors_deliver_each_entry_once_when_the_receiver_is_healthy(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    from handoff_ledger.adapters.store.bootstrap import open_ledger

    healthy = Receiver(failures=0)
    other_ledger = open_ledger(store_url, clock=clock)
    ledger.apply_protocol(protocol(healthy.url, healthy.url), source="handoff.toml", by="human:me")
    first, second = Reactor(ledger), Reactor(other_ledger)
    try:
        for n in range(20):
            sent = ledger.send(sender="human:me", to="code_agent", trigger=f"t{n}").handoff
            ledger.ack(sent.id, by="code_agent")
        reports = [first.run_once(), second.run_once(), first.run_once()]
        delivered = [a for r in reports for a in r.deliveries if a.delivered]
        assert len(delivered) == 20 == len(healthy.requests)
        assert len(healthy.deduped()) == 20
    finally:
        first.close()
        second.close()
        other_ledger.close()
        healthy.close()
