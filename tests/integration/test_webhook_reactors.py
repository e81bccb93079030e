"""Webhooks with real reactor processes: two at once, and one SIGKILLed mid-delivery.

The receiver counts every POST by its ``Idempotency-Key``. Two looping reactors are
released at once onto due entries while more keep coming: the leases keep them from
sending an entry twice. Then a delivery is held open at the receiver (it has the POST; the reactor
waits for the answer) and the reactors are SIGKILLed: the entry's lease runs out
(the reactors read a file clock the test moves) and the next reactor sends it again,
with the same key, so a receiver that dedupes by key keeps each broadcast once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from start_line import start_together
from waiting import eventually

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock
from handoff_ledger.adapters.services.webhooks import LEASE
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views

HANDOFF = str(Path(sys.executable).parent / "handoff")
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.slow

SLOW_ANSWER = 0.02
"""Seconds the receiver takes to answer a POST (until the held one is released)."""


class CountingReceiver:
    """Counts POSTs by ``Idempotency-Key``; can hold the next one open until released."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.hold_next = False
        self.held = threading.Event()  # a POST arrived and is being held
        self.release = threading.Event()
        self.held_key = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.keys[key] += 1
                    hold, receiver.hold_next = receiver.hold_next, False
                if hold:
                    receiver.held_key = key
                    receiver.held.set()
                    receiver.release.wait(timeout=120)
                else:
                    # A slow endpoint: a reactor's deliveries take a while, and the
                    # other reactor's passes meet them under way.
                    receiver.release.wait(timeout=SLOW_ANSWER)
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    pass  # the reactor that sent it is dead

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.keys)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CountingReceiver]:
    counting = CountingReceiver()
    yield counting
    counting.close()


def broadcast(ledger: Ledger, count: int) -> None:
    """``count`` handoffs from human:me, each acked: one feed entry each for human:me."""
    for n in range(count):
        sent = ledger.send(sender="human:me", to="code_agent", trigger=f"t{n}").handoff
        ledger.ack(sent.id, by="code_agent")


def feed_keys(ledger: Ledger) -> set[str]:
    """The Idempotency-Key of every entry of human:me's feed."""
    views = Views(ledger)
    views.catch_up()
    rows = views.read.notifications("human:me", limit=10_000)
    return {f"{row['handoff_id']}:{row['position']}" for row in rows}


def test_webhooks_with_two_reactors_at_once_and_one_killed_mid_delivery(
    store_url: str, tmp_path: Path, receiver: CountingReceiver
) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    ledger = open_ledger(store_url, clock=clock)
    env = {**os.environ, "HANDOFF_DB": store_url, CLOCK_ENV: f"file:{clock.path}"}
    loops: list[subprocess.Popen[str]] = []
    try:
        ledger.apply_protocol(
            "allow_private_webhooks = true\n[agents.code_agent]\n"
            f'[agents."human:me"]\nwebhook = "{receiver.url}"\n',
            source="handoff.toml",
            by="human:me",
        )
        broadcast(ledger, 30)
        argv = [HANDOFF, "reactor", "--interval", "0.02", "--json"]
        # Two reactors released at once onto 30 due entries, then 10 more: the leases
        # keep each entry to one reactor.
        loops = start_together([argv, argv], env, tmp_path / "gates", now=START)
        broadcast(ledger, 10)
        expected = feed_keys(ledger)
        assert len(expected) == 40
        assert eventually(lambda: set(receiver.counts()) == expected), receiver.counts()
        assert set(receiver.counts().values()) == {1}, "two reactors sent one entry"
        # The next delivery is held open at the receiver, and both reactors killed.
        receiver.hold_next = True
        broadcast(ledger, 5)
        assert receiver.held.wait(timeout=60), "no delivery reached the receiver"
        for loop in loops:
            assert loop.poll() is None, "a reactor died on its own"
            loop.send_signal(signal.SIGKILL)
            loop.wait(timeout=30)
        receiver.release.set()
        held = receiver.held_key
        # The killed delivery's lease runs out; the next reactor sends it again.
        clock.advance(LEASE + timedelta(seconds=1))
        done = subprocess.run(
            [HANDOFF, "reactor", "--once", "--json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        resent = {a["cursor"] for a in json.loads(done.stdout)["deliveries"] if a["delivered"]}
        expected = feed_keys(ledger)
        counts = receiver.counts()
        assert set(counts) == expected  # every broadcast arrived, at least once...
        assert counts[held] == 2  # ...the one cut off twice, under one key...
        # ...and only entries a killed reactor had not recorded were sent again, by
        # the reactor that came after (at least once; the key makes it once).
        twice = {key for key, n in counts.items() if n > 1}
        assert set(counts.values()) <= {1, 2}
        assert {int(key.rpartition(":")[2]) for key in twice} <= resent
    finally:
        for loop in loops:
            if loop.poll() is None:
                loop.kill()
            loop.communicate(timeout=30)
        ledger.close()
