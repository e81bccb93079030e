"""The spans the ledger makes: one per command, one per handoff's life, one trace per chain.

Imported only when tracing is on (:mod:`.tracing` decides, from the ``OTEL_*``
variables): it needs ``opentelemetry-sdk``.

**Nothing is stored.** Every process (a ``handoff`` command, ``serve``, the
reactor) derives the same trace context from the ids each event already carries:

- a chain's **trace id** is its chain id's 128 bits (the first handoff's id);
- a handoff's **span id** is its id's low 64 bits: the span of its life.

A command's span is a child of its handoff's life span; a follow-up's life span is
a child of its parent's, and its ``send``/``follow-up`` span also *links* to the
parent's. The life span is exported once, by whichever process records the closing
event (complete, fail, decline, cancel), from the handoff's created time to its
closed time; until then its commands' spans hang under a parent not yet exported,
as any long-running parent's children do.

**Spans are made finished.** Every span the ledger makes is known only once its
command is over (which handoff, which chain, whether it was refused), and the life
span's ids are fixed in advance, so each is built as a finished SDK ``ReadableSpan``
and handed to the span processors' ``on_end`` (the batch processor and its exporter,
as the SDK's own pipeline would). The SDK's ``Tracer.start_span`` path cost about
37 µs of CPU per span here (attribute validation, two sampler calls, the live span's
lock), 30 % of a lifecycle's CPU for its four spans; this path costs about 5 µs
(docs/performance.md). Processors' ``on_start`` is not called (no span is ever live).

Times are the ledger clock's (the system clock in production; the simulated one in
tests and the demo, so the command spans sit inside the life spans they belong to).
The sampler (``OTEL_TRACES_SAMPLER``) decides per chain, as for the chain's root
span, so a ratio sampler keeps or drops whole chains, the same way in every process.
"""

from __future__ import annotations

import atexit
import random
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from uuid import UUID

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from handoff_ledger.domain.handoff import Handoff

__all__ = ["HANDOFF_SOURCE", "HANDOFF_TARGET", "Tracing", "span_id_of", "trace_id_of"]

HANDOFF_SOURCE = "gen_ai.agent.handoff.source.name"
HANDOFF_TARGET = "gen_ai.agent.handoff.target.name"
"""The GenAI semantic conventions' proposed handoff attributes (semantic-conventions-genai
pull request 98): who handed the work off, and to whom."""

CLOSING = frozenset({"complete", "fail", "decline", "cancel"})
"""Commands whose recorded event ends a handoff's life (and exports its span)."""

SCOPE = "handoff_ledger"
_LOW_64 = (1 << 64) - 1
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_OK = Status(StatusCode.UNSET)
_KEPT = 4096
"""How many sampling decisions and id strings are kept (cleared when full)."""
_SENDS = frozenset({"send", "follow-up"})
_NAMES = {
    op: f"handoff {op}"
    for op in (
        "send", "follow-up", "ack", "take-over", "status", "complete", "fail", "reply",
        "decline", "cancel", "reassign", "note", "escalate",
    )
}  # fmt: skip


def trace_id_of(chain_id: UUID) -> int:
    """The trace id of a chain: its id's 128 bits."""
    return chain_id.int or 1


def span_id_of(handoff_id: UUID) -> int:
    """The span id of a handoff's life: its id's low 64 bits."""
    return (handoff_id.int & _LOW_64) or 1


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _scope() -> InstrumentationScope:
    try:
        return InstrumentationScope(SCOPE, version("handoff-ledger"))
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return InstrumentationScope(SCOPE)


class Tracing:
    """The ledger's spans, handed to its own span processors (the global tracer
    provider is left alone).

    ``Tracing.to(processor, ...)`` is how tests inject an in-memory exporter;
    :func:`.tracing.from_environment` builds one from the ``OTEL_*`` variables.
    """

    def __init__(
        self, processors: Sequence[SpanProcessor], resource: Resource, sampler: Sampler
    ) -> None:
        self.processors = tuple(processors)
        self.resource = resource
        self.sampler = sampler
        self.scope = _scope()
        description = sampler.get_description()
        self.samples_all = description == "AlwaysOnSampler" or description.startswith(
            "ParentBased{root:AlwaysOnSampler,"
        )
        """The default sampler (and ``always_on``) keeps every chain: nothing to ask."""
        self._decisions: dict[int, bool] = {}
        self._lives: dict[int, tuple[str, SpanContext]] = {}
        self._closed = False
        self._lock = threading.Lock()
        atexit.register(self.shutdown)

    @classmethod
    def to(
        cls,
        *processors: SpanProcessor,
        resource: Resource | None = None,
        sampler: Sampler | None = None,
    ) -> Tracing:
        """A tracing that hands every span to ``processors``; the sampler by default is
        the one ``OTEL_TRACES_SAMPLER`` names (read by the SDK's tracer provider)."""
        if sampler is None:
            sampler = TracerProvider(shutdown_on_exit=False).sampler
        return cls(
            processors,
            resource or Resource.create({"service.name": "handoff-ledger"}),
            sampler,
        )

    def force_flush(self) -> None:
        """Export every span made so far."""
        for processor in self.processors:
            processor.force_flush()

    def shutdown(self) -> None:
        """Export what is pending and stop (also done at the process's exit)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for processor in self.processors:
            processor.shutdown()

    # ------------------------------------------------------------------ spans

    def command(
        self,
        op: str,
        handoff: Handoff,
        *,
        by: str,
        started: tuple[int, float],
        recorded: bool,
        duplicate: bool | None = None,
        error: BaseException | None = None,
    ) -> None:
        """The span of one command on ``handoff`` (``started``: its start in ledger time,
        nanoseconds since the epoch, and a perf counter then: :func:`.tracing.started`).

        A ``send`` or ``follow-up`` of a child links to its parent's life span; a
        closing command that recorded its event also exports the handoff's life span.
        Its attributes are few (the life span has the rest): this runs on every command.
        """
        trace_id = handoff.chain_id.int  # trace_id_of, inlined: this runs on every command
        if not (self.samples_all or self._decide(trace_id)):
            return
        text, life = self._life(trace_id, handoff.id)
        attributes: dict[str, Any] = {
            "handoff.id": text,
            "handoff.state": str(handoff.state),
            HANDOFF_SOURCE: handoff.sender,
            HANDOFF_TARGET: handoff.receiver,
            "gen_ai.agent.name": by,
            "handoff.recorded": recorded,
        }
        if handoff.kind is not None:
            attributes["handoff.kind"] = handoff.kind
        links: Sequence[Link] = ()
        if op in _SENDS:
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = "send_handoff"
            if duplicate is not None:
                attributes["handoff.duplicate"] = duplicate
            if handoff.parent_id is not None:
                parent_text, parent_life = self._life(trace_id, handoff.parent_id)
                attributes["handoff.parent_id"] = parent_text
                links = (Link(parent_life),)
        status = _OK
        if error is not None:
            attributes["error.type"] = type(error).__name__
            status = Status(StatusCode.ERROR, str(getattr(error, "message", error)))
        start = started[0]
        span = ReadableSpan(
            name=_NAMES.get(op) or f"handoff {op}",
            context=SpanContext(trace_id, random.getrandbits(64) or 1, False, _SAMPLED),
            parent=life,
            resource=self.resource,
            attributes=attributes,
            links=links,
            kind=SpanKind.INTERNAL,
            status=status,
            start_time=start,
            end_time=start + int((time.perf_counter() - started[1]) * 1e9),
            instrumentation_scope=self.scope,
        )
        for processor in self.processors:
            processor.on_end(span)
        if recorded and error is None and op in CLOSING:
            self.life(handoff)

    def refused(
        self,
        op: str,
        handoff_id: UUID | None,
        *,
        by: str | None,
        started: tuple[int, float],
        error: BaseException,
    ) -> None:
        """The span of a command refused before any handoff was found (no chain: a
        trace of its own)."""
        trace_id = random.getrandbits(128) or 1
        if not self._decide(trace_id):
            return
        attributes: dict[str, Any] = {"error.type": type(error).__name__}
        if handoff_id is not None:
            attributes["handoff.id"] = str(handoff_id)
        if by is not None:
            attributes["gen_ai.agent.name"] = by
        start = started[0]
        self._finish(
            ReadableSpan(
                name=f"handoff {op}",
                context=SpanContext(trace_id, random.getrandbits(64) or 1, False, _SAMPLED),
                resource=self.resource,
                attributes=attributes,
                kind=SpanKind.INTERNAL,
                status=Status(StatusCode.ERROR, str(getattr(error, "message", error))),
                start_time=start,
                end_time=start + int((time.perf_counter() - started[1]) * 1e9),
                instrumentation_scope=self.scope,
            )
        )

    def life(self, handoff: Handoff) -> None:
        """The span of a handoff's life, sent to closed, with its derived ids."""
        trace_id = trace_id_of(handoff.chain_id)
        if not (self.samples_all or self._decide(trace_id)):
            return
        parent = None
        attributes: dict[str, Any] = {
            "handoff.id": self._life(trace_id, handoff.id)[0],
            "handoff.chain_id": self._life(trace_id, handoff.chain_id)[0],
            "handoff.state": str(handoff.state),
            HANDOFF_SOURCE: handoff.sender,
            HANDOFF_TARGET: handoff.receiver,
            "handoff.escalations": handoff.escalation_count,
        }
        if handoff.kind is not None:
            attributes["handoff.kind"] = handoff.kind
        if handoff.parent_id is not None:
            attributes["handoff.parent_id"], parent = self._life(trace_id, handoff.parent_id)
        start = _ns(handoff.created_on)
        closed = handoff.closed_at or handoff.modified_on
        self._finish(
            ReadableSpan(
                name="handoff life",
                context=SpanContext(trace_id, span_id_of(handoff.id), False, _SAMPLED),
                parent=parent,
                resource=self.resource,
                attributes=attributes,
                kind=SpanKind.INTERNAL,
                status=_OK,
                start_time=start,
                end_time=max(_ns(closed), start),
                instrumentation_scope=self.scope,
            )
        )

    # ------------------------------------------------------------------ helpers

    def _decide(self, trace_id: int) -> bool:
        """The sampler's decision for a chain, asked as for its root span (kept per
        trace id, so a chain's four or so spans in a row ask once)."""
        decided = self._decisions.get(trace_id)
        if decided is None:
            result = self.sampler.should_sample(Context(), trace_id, "handoff")
            decided = result.decision is Decision.RECORD_AND_SAMPLE
            if len(self._decisions) >= _KEPT:
                self._decisions.clear()
            self._decisions[trace_id] = decided
        return decided

    def _life(self, trace_id: int, handoff_id: UUID) -> tuple[str, SpanContext]:
        """A handoff's id as text and its life span's context, kept for the next spans
        of the same handoff (``str(UUID)`` alone is 0.5 µs)."""
        key = handoff_id.int
        found = self._lives.get(key)
        if found is None:
            if len(self._lives) >= _KEPT:
                self._lives.clear()
            life = SpanContext(trace_id, span_id_of(handoff_id), True, _SAMPLED)
            found = self._lives[key] = (str(handoff_id), life)
        return found

    def _finish(self, span: ReadableSpan) -> None:
        for processor in self.processors:
            processor.on_end(span)
