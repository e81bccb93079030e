"""``/metrics`` after a scripted run through ``serve --workers 2`` and a separate reactor.

Handoffs are sent, acked, completed, declined and failed over HTTP (the two workers
share the requests), a reactor process escalates the ones never acked and delivers
webhooks to a receiver that fails its first two requests; then every family that
counts events is compared with a count of ``handoff log --json`` (and the receiver's
own count), each scrape parsed by ``prometheus_client``'s own parser. Several scrapes
reach both workers: each computes the same numbers from the store.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handoff_ledger.adapters.ledger.clock import FileClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from tests.e2e.conftest import CLI, HANDOFF
from tests.e2e.test_serve_with_reactor import free_port
from tests.waiting import eventually

SENT = 12


class FlakyReceiver:
    """Answers 503 to its first two POSTs, 204 after; counts what it kept."""

    def __init__(self) -> None:
        self.kept: set[str] = set()
        self.failures = 2
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                failing = receiver.failures > 0
                receiver.failures -= 1
                if not failing:
                    receiver.kept.add(self.headers["Idempotency-Key"])
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    found = FlakyReceiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed by the client library's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def test_metrics_from_two_workers_equal_counts_of_the_log(
    store_url: str, tmp_path: Path, receiver: FlakyReceiver
) -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    clock = FileClock(tmp_path / "clock")
    clock.set(start)
    cli = CLI(store_url, tmp_path, clock)
    ledger = open_ledger(store_url, clock=clock, create=True)
    try:
        ledger.apply_protocol(
            f"allow_private_webhooks = true\n[agents.inbox_monitor]\n[agents.code_agent]\n"
            f'[agents."human:me"]\nwebhook = "{receiver.url}"\n',
            source="handoff.toml",
            by="human:me",
        )
    finally:
        ledger.close()
    tokens = cli.issue_tokens("inbox_monitor", "code_agent", admins=("human:me",))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [HANDOFF, "serve", "--port", str(port), "--workers", "2"],
        env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    reactor = None
    client = httpx.Client(base_url=base, timeout=30)
    try:

        def up() -> bool:
            try:
                return client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        assert eventually(up, 60), "serve --workers 2 did not start"

        def call(agent: str, path: str, body: dict[str, Any] | None = None) -> Any:
            answer = client.post(
                path, json=body or {}, headers={"Authorization": f"Bearer {tokens[agent]}"}
            )
            assert answer.status_code in (200, 201), answer.text
            return answer.json()

        ids = [
            call(
                "inbox_monitor",
                "/handoffs",
                {"to": "code_agent", "ack_within": "5m", "escalate_to": ["human:me"]},
            )["id"]
            for _ in range(SENT)
        ]
        # ETAs: 1 min for the four completed at 09:02 (late), 1 h for the declined and
        # the failed one (broken, kept), 5 min for two left open (late by the scrape).
        for hid, eta in zip(ids[:8], ["1m"] * 4 + ["1h"] * 2 + ["5m"] * 2, strict=True):
            call("code_agent", f"/handoffs/{hid}/ack", {"eta": eta})
        clock.set(start + timedelta(minutes=2))
        for hid in ids[:4]:
            call("code_agent", f"/handoffs/{hid}/complete")
        call("code_agent", f"/handoffs/{ids[4]}/decline", {"reason": "not mine"})
        call("code_agent", f"/handoffs/{ids[5]}/fail", {"reason": "broke"})

        reactor = subprocess.Popen(
            [HANDOFF, "reactor", "--interval", "0.05"],
            env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        clock.set(start + timedelta(minutes=10))  # four ack promises broken

        def scrape(token: str | None = tokens["human:me"]) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return client.get("/metrics", headers=headers)

        def reached(**wanted: float) -> Any:
            def check() -> bool:
                found = samples(scrape().text)
                return all(total(found, name) >= n for name, n in wanted.items())

            return check

        escalated_and_failed = reached(
            handoff_escalations_total=SENT - 8, handoff_webhook_failed_attempts_total=2
        )
        assert eventually(escalated_and_failed, 120), scrape().text
        clock.set(start + timedelta(minutes=20))  # the two failed deliveries' retries fall due

        def delivered() -> bool:
            found = samples(scrape().text)
            return total(found, "handoff_webhook_pending") == 0 and len(receiver.kept) > 0

        assert eventually(delivered, 120), scrape().text
        reactor.send_signal(signal.SIGTERM)
        reactor.wait(timeout=30)
        reactor = None

        log = [json.loads(line) for line in cli.run("log", "--json").stdout.splitlines()]
        head = max(entry["position"] for entry in log)

        def current() -> bool:
            found = samples(scrape().text)
            return (
                total(found, "handoff_view_lag_events") == 0
                and total(found, "handoff_view_position", view="chains") >= head
            )

        assert eventually(current, 120)
        scrapes = [samples(scrape().text) for _ in range(6)]  # both workers answer
        found = scrapes[0]
        for other in scrapes[1:]:
            assert {k: v for k, v in other.items() if "reactor" not in k[0]} == {
                k: v for k, v in found.items() if "reactor" not in k[0]
            }

        types = Counter(entry["type"] for entry in log)
        assert total(found, "handoff_created_handoffs_total") == types["Created"] == SENT
        for state, event in [
            ("completed", "Completed"),
            ("declined", "Declined"),
            ("failed", "Failed"),
        ]:
            assert total(found, "handoff_closed_handoffs_total", state=state) == types[event] > 0
        assert total(found, "handoff_open_handoffs") == SENT - 6
        escalated = Counter((e["reason"], str(e["level"])) for e in log if e["type"] == "Escalated")
        assert sum(escalated.values()) >= SENT - 8
        assert {
            (dict(ls)["reason"], dict(ls)["level"]): v
            for (n, ls), v in found.items()
            if n == "handoff_escalations_total"
        } == escalated
        acked = {e["handoff_id"] for e in log if e["type"] == "Acked"}
        assert total(found, "handoff_ack_latency_seconds_count", receiver="code_agent") == len(
            acked
        )
        assert total(found, "handoff_completion_seconds_count") == types["Completed"]
        assert total(found, "handoff_completion_seconds_sum") == 4 * 120  # sent 09:00, done 09:02
        assert total(found, "handoff_webhook_deliveries_total", agent="human:me") == len(
            receiver.kept
        )
        assert total(found, "handoff_webhook_failed_attempts_total", agent="human:me") == 2
        assert total(found, "handoff_reactor_pass_seconds_count") > 0
        assert total(found, "handoff_log_head") == head

        # Promise accuracy, against the ETAs of the log's acks and how each handoff closed.
        closed = {
            e["handoff_id"]: e for e in log if e["type"] in ("Completed", "Failed", "Declined")
        }
        now = start + timedelta(minutes=20)
        outcomes: Counter[str] = Counter()
        lateness = []
        for ack in (e for e in log if e["type"] == "Acked" and e["eta"]):
            due, end = datetime.fromisoformat(ack["eta"]), closed.get(ack["handoff_id"])
            if end is not None and end["type"] == "Declined":
                outcomes["broken"] += 1
                continue
            at = datetime.fromisoformat(end["at"]) if end else now
            outcomes["kept" if at <= due else "late"] += 1
            if at > due:
                lateness.append((at - due).total_seconds())
        key = {"agent": "code_agent", "kind": "none", "promise": "eta"}
        for outcome in ("kept", "late", "broken"):
            assert total(found, "handoff_promises", outcome=outcome, **key) == outcomes[outcome]
        assert outcomes == {"kept": 1, "late": 6, "broken": 1}
        assert total(found, "handoff_promises_kept_ratio", **key) == 1 / 8
        lateness.sort()
        assert (
            total(found, "handoff_promise_lateness_seconds", quantile="0.5", **key)
            == (
                lateness[2]  # nearest rank: the 3rd of 6
            )
            == 60
        )
        assert (
            total(found, "handoff_promise_lateness_seconds", quantile="0.9", **key)
            == (
                lateness[5]  # the 6th of 6
            )
            == 900
        )

        # The Grafana dashboard of docs/ asks only for series a scrape has.
        dashboard = json.loads(
            (Path(__file__).parents[2] / "docs/grafana-dashboard.json").read_text()
        )
        asked = {
            name
            for panel in dashboard["panels"]
            for target in panel["targets"]
            for name in re.findall(r"handoff_\w+", target["expr"])
        }
        assert len(asked) >= 12
        assert asked <= {name for name, _ in found}

        assert scrape(None).status_code == 401
        assert scrape(tokens["code_agent"]).status_code == 403
        assert scrape().headers["content-type"].startswith("text/plain; version=")
    finally:
        client.close()
        for process in (reactor, server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
