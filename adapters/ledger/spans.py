"""The spans the ledger makes: one per command, one per handoff's life, one trace per chain.

Imported only when tracing is on (:mod:`.tracing` decides, from the ``OTEL_*``
variables): it needs ``opentelemetry-sdk``.

**Nothing is stored.** Every process (a ``handoff`` command, ``serve``, the
reactor) derives the same trace context from the ids each event already carries:

- a chain's **trace id** is its chain id's 128 bits (the first handoff's id);
- a handoff's **span id** is its id's low 64 bits: the span of its life.

A command's span is a child of its handoff's life span; a follow-up's life span is
a child of its parent's, and its ``send`` span also *links* to the parent's. The
life span itself is exported once, by whichever process records the closing event
(complete, fail, decline, cancel), from the handoff's created time to its closed
time, with the derived ids (:class:`DerivedIds`); until then its commands' spans
hang under a parent not yet exported, as any long-running parent's children do.

Times are the ledger clock's (the system clock in production; the simulated one in
tests and the demo, so the command spans sit inside the life spans they belong to).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from uuid import UUID

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from handoff_ledger.domain.handoff import Handoff

__all__ = [
    "HANDOFF_SOURCE",
    "HANDOFF_TARGET",
    "DerivedIds",
    "Tracing",
    "span_id_of",
    "trace_id_of",
]

HANDOFF_SOURCE = "gen_ai.agent.handoff.source.name"
HANDOFF_TARGET = "gen_ai.agent.handoff.target.name"
"""The GenAI semantic conventions' proposed handoff attributes (semantic-conventions-genai
pull request 98): who handed the work off, and to whom."""

CLOSING = frozenset({"complete", "fail", "decline", "cancel"})
"""Commands whose recorded event ends a handoff's life (and exports its span)."""

SCOPE = "handoff_ledger"
_LOW_64 = (1 << 64) - 1
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_FORCED: ContextVar[tuple[int, int] | None] = ContextVar("handoff_ledger_forced_ids", default=None)


def trace_id_of(chain_id: UUID) -> int:
    """The trace id of a chain: its id's 128 bits."""
    return chain_id.int or 1


def span_id_of(handoff_id: UUID) -> int:
    """The span id of a handoff's life: its id's low 64 bits."""
    return (handoff_id.int & _LOW_64) or 1


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


class DerivedIds(RandomIdGenerator):
    """Random ids, except while a handoff's life span is started: then its derived ones."""

    def generate_span_id(self) -> int:
        forced = _FORCED.get()
        return forced[1] if forced is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        forced = _FORCED.get()
        return forced[0] if forced is not None else super().generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return _FORCED.get() is None


class Tracing:
    """A tracer provider of the ledger's own (the global one is left alone), and the
    spans of its commands.

    ``Tracing.to(processor, ...)`` is how tests inject an in-memory exporter;
    :func:`.tracing.from_environment` builds one from the ``OTEL_*`` variables.
    """

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(SCOPE)
        self.sampler = provider.sampler

    @classmethod
    def to(cls, *processors: SpanProcessor, resource: Resource | None = None) -> Tracing:
        """A tracing that hands every span to ``processors`` (derived ids, env sampler)."""
        provider = TracerProvider(
            resource=resource or Resource.create({"service.name": "handoff-ledger"}),
            id_generator=DerivedIds(),
            shutdown_on_exit=True,
        )
        for processor in processors:
            provider.add_span_processor(processor)
        return cls(provider)

    def shutdown(self) -> None:
        """Export what is pending and stop (the provider also does so at exit)."""
        self.provider.shutdown()

    # ------------------------------------------------------------------ contexts

    def life_context(self, chain_id: UUID, handoff_id: UUID) -> SpanContext:
        """The span context of a handoff's life, as every process derives it."""
        trace_id = trace_id_of(chain_id)
        return SpanContext(
            trace_id,
            span_id_of(handoff_id),
            is_remote=True,
            trace_flags=_SAMPLED if self._sampled(trace_id) else _UNSAMPLED,
        )

    def _sampled(self, trace_id: int) -> bool:
        """The sampler's decision for a chain, made as for its root (so a ratio sampler
        keeps or drops whole chains, the same in every process)."""
        decision = self.sampler.should_sample(Context(), trace_id, "handoff").decision
        return decision is Decision.RECORD_AND_SAMPLE

    # ------------------------------------------------------------------ spans

    def command(
        self,
        op: str,
        handoff: Handoff,
        *,
        by: str,
        started: tuple[datetime, float],
        recorded: bool,
        duplicate: bool | None = None,
        error: BaseException | None = None,
    ) -> None:
        """The span of one command on ``handoff`` (``started``: ledger time, perf counter).

        A ``send`` or ``follow-up`` of a child links to its parent's life span; a
        closing command that recorded its event also exports the handoff's life span.
        """
        life = self.life_context(handoff.chain_id, handoff.id)
        attributes = self._attributes(handoff)
        attributes["gen_ai.agent.name"] = by
        attributes["handoff.recorded"] = recorded
        links: Sequence[Link] = ()
        if op in ("send", "follow-up"):
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = "send_handoff"
            if duplicate is not None:
                attributes["handoff.duplicate"] = duplicate
            if handoff.parent_id is not None:
                links = [Link(self.life_context(handoff.chain_id, handoff.parent_id))]
        self._emit(
            f"handoff {op}", set_span_in_context(NonRecordingSpan(life)), attributes, links,
            started, error,
        )  # fmt: skip
        if recorded and error is None and op in CLOSING:
            self.life(handoff)

    def refused(
        self,
        op: str,
        handoff_id: UUID | None,
        *,
        by: str | None,
        started: tuple[datetime, float],
        error: BaseException,
    ) -> None:
        """The span of a command refused before any handoff was found (no chain: its own
        trace)."""
        attributes: dict[str, Any] = {}
        if handoff_id is not None:
            attributes["handoff.id"] = str(handoff_id)
        if by is not None:
            attributes["gen_ai.agent.name"] = by
        self._emit(f"handoff {op}", Context(), attributes, (), started, error)

    def life(self, handoff: Handoff) -> None:
        """The span of a handoff's life, sent to closed, with its derived ids."""
        if handoff.parent_id is None:
            parent = Context()
        else:
            parent_life = self.life_context(handoff.chain_id, handoff.parent_id)
            parent = set_span_in_context(NonRecordingSpan(parent_life))
        attributes = self._attributes(handoff)
        attributes["handoff.escalations"] = handoff.escalation_count
        token = _FORCED.set((trace_id_of(handoff.chain_id), span_id_of(handoff.id)))
        try:
            span = self.tracer.start_span(
                "handoff life",
                context=parent,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=_ns(handoff.created_on),
            )
        finally:
            _FORCED.reset(token)
        closed = handoff.closed_at or handoff.modified_on
        span.end(end_time=max(_ns(closed), _ns(handoff.created_on)))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _attributes(handoff: Handoff) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "handoff.id": str(handoff.id),
            "handoff.chain_id": str(handoff.chain_id),
            "handoff.state": str(handoff.state),
            HANDOFF_SOURCE: handoff.sender,
            HANDOFF_TARGET: handoff.receiver,
        }
        if handoff.kind is not None:
            attributes["handoff.kind"] = handoff.kind
        if handoff.parent_id is not None:
            attributes["handoff.parent_id"] = str(handoff.parent_id)
        return attributes

    def _emit(
        self,
        name: str,
        context: Context,
        attributes: dict[str, Any],
        links: Sequence[Link],
        started: tuple[datetime, float],
        error: BaseException | None,
    ) -> None:
        start_ns = _ns(started[0])
        span = self.tracer.start_span(
            name,
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=links,
            start_time=start_ns,
        )
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(getattr(error, "message", error))))
        span.end(end_time=start_ns + int((time.perf_counter() - started[1]) * 1e9))
