"""Traces from real ``handoff`` processes, configured by the standard ``OTEL_*`` variables
and exported over OTLP/HTTP to a collector stand-in on the loopback.

Each command is its own process (send, complete, the reactor's pass; the ack through
``handoff serve``), with nothing shared but the store: the spans they export still make one trace per chain,
the follow-up's linked to its parent's (issue 23 item 3).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from conftest import CLI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from test_http import start_server, stop

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


class Collector(ThreadingHTTPServer):
    """Keeps every span POSTed to /v1/traces, with its resource's service name."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}.get(
                "service.name"
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "service": service,
                            "scope": scope_spans.scope.name,
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "links": [
                                (link.trace_id.hex(), link.span_id.hex()) for link in span.links
                            ],
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                        }
                    )
        with self.server.lock:
            self.server.spans.extend(found)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class TracedCLI(CLI):
    def __init__(self, url: str, cwd: Path, otel: dict[str, str]) -> None:
        super().__init__(url, cwd)
        self.otel = otel

    def env(self) -> dict[str, str]:
        return {k: v for k, v in super().env().items() if not k.startswith("OTEL_")} | self.otel


def test_handoff_processes_export_one_trace_per_chain_over_otlp(
    sqlite_url: str, tmp_path: Path, collector: Collector
) -> None:
    cli = TracedCLI(
        sqlite_url,
        tmp_path,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "ledger-e2e"},
    )
    (tmp_path / "handoff.toml").write_text(SEED_PROTOCOL, encoding="utf-8")
    before = time.time_ns()
    cli.run("protocol", "apply", "handoff.toml")
    bug = cli.json(
        "send", "--from", "inbox_monitor", "--kind", "bug_report", "--payload", json.dumps(BUG)
    )
    other = cli.json("send", "--from", "inbox_monitor", "--to", "support_agent")
    tokens = cli.issue_tokens("code_agent")
    server, url = start_server(cli)  # the ack goes through `handoff serve`
    try:
        headers = {"Authorization": f"Bearer {tokens['code_agent']}"}
        acked = httpx.post(f"{url}/handoffs/{bug['id']}/ack", headers=headers, timeout=30)
        assert acked.status_code == 200, acked.text
    finally:
        stop(server)  # its spans are exported as it exits
    cli.run("complete", bug["id"], "--as", "code_agent", "--result", '{"reply": "Fixed"}')
    cli.json("reactor", "--once")
    reply = next(e for e in cli.log() if e.get("kind") == "customer_reply")["handoff_id"]

    after = time.time_ns()

    chain = UUID(bug["id"]).hex
    spans = collector.spans
    assert {s["service"] for s in spans} == {"ledger-e2e"}
    assert {s["scope"] for s in spans} == {"handoff_ledger"}
    assert {s["trace_id"] for s in spans} == {chain, UUID(other["id"]).hex}
    names = sorted(
        (s["name"], s["attributes"]["handoff.id"]) for s in spans if s["trace_id"] == chain
    )
    assert names == sorted(
        [
            ("handoff send", bug["id"]),
            ("handoff ack", bug["id"]),
            ("handoff complete", bug["id"]),
            ("handoff life", bug["id"]),
            ("handoff follow-up", reply),
        ]
    )
    life = next(s for s in spans if s["name"] == "handoff life")
    assert life["parent"] == ""
    assert life["span_id"] == chain[16:]  # the handoff id's low 64 bits
    for span in spans:
        if span["trace_id"] == chain and span is not life:
            expected = (
                life["span_id"]
                if span["attributes"]["handoff.id"] == bug["id"]
                else UUID(reply).hex[16:]
            )
            assert span["parent"] == expected, span
    # The system clock's times: each span within the test, a life from sent to completed.
    assert all(before <= s["start"] <= s["end"] <= after for s in spans), spans
    sent = next(s for s in spans if s["name"] == "handoff send" and s["trace_id"] == chain)
    done = next(s for s in spans if s["name"] == "handoff complete")
    # (the events' recorded times are read while their commands run: microseconds)
    assert sent["start"] // 1000 <= life["start"] // 1000 <= sent["end"] // 1000
    assert done["start"] // 1000 <= life["end"] // 1000 <= done["end"] // 1000
    follow_up = next(s for s in spans if s["name"] == "handoff follow-up")
    assert follow_up["links"] == [(chain, life["span_id"])]
    assert follow_up["attributes"]["gen_ai.agent.handoff.source.name"] == "code_agent"
    assert follow_up["attributes"]["gen_ai.agent.handoff.target.name"] == "inbox_monitor"


def test_the_console_exporter_writes_to_stderr_and_leaves_json_alone(
    sqlite_url: str, tmp_path: Path
) -> None:
    cli = TracedCLI(sqlite_url, tmp_path, {"OTEL_TRACES_EXPORTER": "console"})
    done = cli.run("send", "--from", "inbox_monitor", "--to", "code_agent", "--json")
    sent = json.loads(done.stdout)
    assert f'"trace_id": "0x{UUID(sent["chain_id"]).hex}"' in done.stderr
    assert '"name": "handoff send"' in done.stderr
