"""Traces (issue 23 item 3): one trace per chain, follow-ups linked to their parent.

Two ledgers on one store stand for two processes (the agents' and the reactor's),
each with its own tracer provider and in-memory exporter: what they export lands in
the same trace because both derive it from the chain's ids, nothing shared between
them but the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from uuid import UUID

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from waiting import eventually

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.spans import HANDOFF_SOURCE, HANDOFF_TARGET, Tracing
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import Refused

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def traced(ledger: Ledger) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    ledger.tracing = Tracing.to(exporter)
    return exporter


@pytest.fixture
def reactor_ledger(store_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    opened = open_ledger(store_url, clock=clock)
    yield opened
    opened.close()


def of(spans: list[ReadableSpan], handoff_id: UUID, name: str) -> ReadableSpan:
    """The one span ``name`` of ``handoff_id`` that did not fail."""
    found = [
        s
        for s in spans
        if s.name == name
        and (s.attributes or {}).get("handoff.id") == str(handoff_id)
        and s.status.status_code is not StatusCode.ERROR
    ]
    assert len(found) == 1, (name, handoff_id, [s.name for s in spans])
    return found[0]


def parent_of(span: ReadableSpan) -> int:
    assert span.parent is not None, span.name
    return span.parent.span_id


def test_a_chain_is_one_trace_and_a_follow_up_links_to_its_parent(
    ledger: Ledger, reactor_ledger: Ledger, clock: SimulatedClock
) -> None:
    agents, reactor_spans = traced(ledger), traced(reactor_ledger)
    reactor = Reactor(reactor_ledger)
    ledger.apply_protocol(SEED_PROTOCOL, source="handoff.toml", by="human:me")
    bug = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
    other = ledger.send(sender="inbox_monitor", kind="bug_report", payload=BUG).handoff
    clock.advance(timedelta(minutes=10))
    ledger.ack(bug.id, by="code_agent")
    with pytest.raises(Refused):
        ledger.complete(bug.id, by="support_agent", result={"reply": "no"})
    clock.advance(timedelta(minutes=20))
    ledger.complete(bug.id, by="code_agent", result={"reply": "Fixed in PR #412", "fix": "PR #412"})
    clock.advance(timedelta(minutes=31))  # the other bug report's ack is now overdue
    report = reactor.run_once()
    assert len(report.follow_ups) == 1
    assert len(report.escalated) == 1
    reply = UUID(report.follow_ups[0])
    ledger.ack(reply, by="inbox_monitor")
    ledger.complete(reply, by="inbox_monitor")
    review = UUID(reactor.run_once().follow_ups[0])

    for each in (ledger, reactor_ledger):
        assert each.tracing is not None
        each.tracing.force_flush()
    spans = [*agents.get_finished_spans(), *reactor_spans.get_finished_spans()]
    in_chain = {str(bug.id), str(reply), str(review)}
    chain = [s for s in spans if (s.attributes or {}).get("handoff.id") in in_chain]
    assert {s.name for s in chain} == {
        "handoff send", "handoff ack", "handoff complete", "handoff life", "handoff follow-up"
    }  # fmt: skip
    # One trace per chain: its id is the chain's, in both "processes".
    assert {s.context.trace_id for s in chain} == {bug.id.int}
    assert {s.context.trace_id for s in reactor_spans.get_finished_spans()} == {
        bug.id.int, other.id.int
    }  # fmt: skip
    others = [s for s in spans if (s.attributes or {}).get("handoff.id") == str(other.id)]
    assert {s.name for s in others} == {"handoff send", "handoff escalate"}
    assert {s.context.trace_id for s in others} == {other.id.int} != {bug.id.int}

    bug_life, reply_life = of(spans, bug.id, "handoff life"), of(spans, reply, "handoff life")
    assert bug_life.parent is None
    assert reply_life.parent is not None
    assert reply_life.parent.span_id == bug_life.context.span_id
    # Every command's span is a child of its handoff's life span.
    for name in ("handoff send", "handoff ack", "handoff complete"):
        assert parent_of(of(spans, bug.id, name)) == bug_life.context.span_id
    for name in ("handoff follow-up", "handoff ack", "handoff complete"):
        assert parent_of(of(spans, reply, name)) == reply_life.context.span_id
    # The follow-up's send, made by the reactor's process, links to its parent's life.
    follow_up = of(reactor_spans.get_finished_spans(), reply, "handoff follow-up")
    assert [link.context.span_id for link in follow_up.links] == [bug_life.context.span_id]
    assert [link.context.trace_id for link in follow_up.links] == [bug.id.int]
    review_send = of(spans, review, "handoff follow-up")
    assert [link.context.span_id for link in review_send.links] == [reply_life.context.span_id]

    # The GenAI conventions' handoff attributes.
    send = of(spans, bug.id, "handoff send")
    assert send.attributes is not None
    assert follow_up.attributes is not None
    assert (send.attributes[HANDOFF_SOURCE], send.attributes[HANDOFF_TARGET]) == (
        "inbox_monitor", "code_agent"
    )  # fmt: skip
    assert (follow_up.attributes[HANDOFF_SOURCE], follow_up.attributes[HANDOFF_TARGET]) == (
        "code_agent", "inbox_monitor"
    )  # fmt: skip
    assert send.attributes["gen_ai.operation.name"] == "execute_tool"
    assert follow_up.attributes["handoff.parent_id"] == str(bug.id)
    # A handoff's life: from sent to closed, in ledger time.
    assert bug_life.start_time == int(bug.created_on.timestamp() * 1e6) * 1000
    assert bug_life.end_time is not None
    assert (bug_life.end_time - bug_life.start_time) / 1e9 == 30 * 60
    assert bug_life.attributes is not None
    assert bug_life.attributes["handoff.state"] == "completed"
    # The refused completion is in the chain's trace, as an error.
    refused = [s for s in chain if s.status.status_code is StatusCode.ERROR]
    assert [(s.name, (s.attributes or {}).get("gen_ai.agent.name")) for s in refused] == [
        ("handoff complete", "support_agent")
    ]
    assert refused[0].parent is not None
    assert refused[0].parent.span_id == bug_life.context.span_id
    # Open handoffs have no life span yet: the other bug report, the review.
    assert not [s for s in spans if s.name == "handoff life" and s in others]
    assert len([s for s in spans if s.name == "handoff life"]) == 2


def test_a_keyed_re_send_is_the_same_trace(ledger: Ledger) -> None:
    exporter = traced(ledger)
    first = ledger.send(sender="inbox_monitor", to="code_agent", key="k-1").handoff
    again = ledger.send(sender="inbox_monitor", to="code_agent", key="k-1")
    assert again.duplicate
    assert ledger.tracing is not None
    ledger.tracing.force_flush()
    sends = exporter.get_finished_spans()
    assert [(s.context.trace_id, (s.attributes or {})["handoff.duplicate"]) for s in sends] == [
        (first.id.int, False), (first.id.int, True)
    ]  # fmt: skip


def test_a_full_batch_is_exported_without_a_flush_and_a_full_queue_drops_its_oldest(
    ledger: Ledger,
) -> None:
    exporter = InMemorySpanExporter()
    ledger.tracing = Tracing.to(exporter, batch=4, delay=3600)  # the delay never passes
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.ack(first.id, by="code_agent")
    ledger.complete(first.id, by="code_agent")  # the fourth span: its life
    assert eventually(lambda: len(exporter.get_finished_spans()) == 4, seconds=10)
    assert [s.name for s in exporter.get_finished_spans()] == [
        "handoff send", "handoff ack", "handoff complete", "handoff life"
    ]  # fmt: skip

    # While the exporter is busy, the queue keeps the newest: the oldest are dropped.
    held = Held()
    ledger.tracing = Tracing.to(held, batch=1, queue=2, delay=3600)
    sent = [ledger.send(sender="inbox_monitor", to="code_agent").handoff]
    assert held.exporting.wait(10)  # the first span is being exported, and waits
    sent += [ledger.send(sender="inbox_monitor", to="code_agent").handoff for _ in range(4)]
    held.go.set()
    ledger.tracing.force_flush()
    exported = [(s.attributes or {})["handoff.id"] for s in held.get_finished_spans()]
    assert exported == [str(sent[0].id), str(sent[3].id), str(sent[4].id)]


class Held(InMemorySpanExporter):
    """An exporter that holds its first export until told to go."""

    def __init__(self) -> None:
        super().__init__()
        self.exporting, self.go = threading.Event(), threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exporting.set()
        self.go.wait(10)
        return super().export(spans)


PROBE = """
import json, sys
from handoff_ledger.adapters.store.bootstrap import open_ledger
ledger = open_ledger(sys.argv[1])
open_ledger(sys.argv[1]).close()  # a second ledger: the process decided once
ledger.send(sender="inbox_monitor", to="code_agent")
print(json.dumps({
    "tracing": ledger.tracing is not None,
    "sdk": sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")),
}))
"""


@pytest.mark.parametrize(
    "otel",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"},
    ],
    ids=["unset", "none", "sdk-disabled"],
)
def test_without_otel_variables_nothing_is_traced(tmp_path: object, otel: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | otel
    done = subprocess.run(
        [sys.executable, "-c", PROBE, f"sqlite:///{tmp_path}/ledger.db"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == '{"tracing": false, "sdk": []}', done.stderr
    assert done.stderr == ""


WITHOUT_SDK = """
import sys


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry.sdk" or name.startswith(("opentelemetry.sdk.", "opentelemetry.exporter")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
exec(sys.argv[2])
"""


def test_asked_to_trace_without_the_sdk_says_so_and_runs_untraced(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_TRACES_EXPORTER"] = "console"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SDK, f"sqlite:///{tmp_path}/ledger.db", PROBE],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == '{"tracing": false, "sdk": []}', done.stderr
    assert done.stderr.count("pip install 'handoff-ledger[otel]'") == 1, done.stderr
