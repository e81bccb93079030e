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

**Spans are made finished, in batches.** Every span the ledger makes is known only
once its command is over (which handoff, which chain, whether it was refused), and
the life span's ids are fixed in advance, so each is built as a finished SDK
``ReadableSpan`` and handed to the span processors' ``on_end``, as the SDK's own
pipeline does at a span's end (``on_start`` is not called: no span is ever live).
A command only *records* what its span needs (a tuple); the spans are built and
handed on :data:`BATCH` at a time, by the command that fills a batch, or within
:data:`DRAIN_SECONDS` by a thread of this module, or at a flush or the process's
exit. Built one at a time between commands, with the ledger's own work evicting the
SDK's code and data from the caches, four spans cost about 6 % of a lifecycle's CPU;
built together, about half that (docs/performance.md). The SDK's ``Tracer.start_span``
path cost 37 µs of CPU per span (attribute validation, two sampler calls, a live
span's lock).

Times are the ledger clock's (the system clock in production; the simulated one in
tests and the demo, so the command spans sit inside the life spans they belong to).
The sampler (``OTEL_TRACES_SAMPLER``) decides per chain, as for the chain's root
span, so a ratio sampler keeps or drops whole chains, the same way in every process.
"""

from __future__ import annotations

import atexit
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
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

__all__ = [
    "BATCH",
    "DRAIN_SECONDS",
    "HANDOFF_SOURCE",
    "HANDOFF_TARGET",
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

BATCH = 64
"""Spans recorded before the command that records the last one builds them all."""
DRAIN_SECONDS = 1.0
"""At most this long between a command and its span reaching the processors."""

SCOPE = "handoff_ledger"
_LOW_64 = (1 << 64) - 1
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_OK = Status(StatusCode.UNSET)
_KEPT = 4096
"""How many sampling decisions and id strings are kept (cleared when full)."""
_SENDS = frozenset({"send", "follow-up"})


def trace_id_of(chain_id: UUID) -> int:
    """The trace id of a chain: its id's 128 bits."""
    return chain_id.int or 1


def span_id_of(handoff_id: UUID) -> int:
    """The span id of a handoff's life: its id's low 64 bits."""
    return (handoff_id.int & _LOW_64) or 1


def _ns(moment: Any) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _scope() -> InstrumentationScope:
    try:
        return InstrumentationScope(SCOPE, version("handoff-ledger"))
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return InstrumentationScope(SCOPE)


class Tracing:
    """The ledger's spans, handed to its own span processors (the global tracer
    provider is left alone).

    ``Tracing.to(processor, ...)`` is how tests inject an in-memory exporter (then
    :meth:`force_flush` before reading it); :func:`.tracing.from_environment` builds
    one from the ``OTEL_*`` variables.
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
        self._records: deque[tuple[Any, ...]] = deque()
        self._building = threading.Lock()
        self._wake = threading.Event()
        self._drainer: threading.Thread | None = None
        self._closed = False
        atexit.register(self.shutdown)
        os.register_at_fork(after_in_child=self._forked)

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
        """Build every span recorded so far and have the processors export them."""
        self._build(wait=True)
        for processor in self.processors:
            processor.force_flush()

    def shutdown(self) -> None:
        """Export what is pending and stop (also done at the process's exit)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._build(wait=True)
        for processor in self.processors:
            processor.shutdown()

    # ------------------------------------------------------------------ recording

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
        """Record the span of one command on ``handoff`` (``started``: its start in
        ledger time, ns since the epoch, and a perf counter then: :func:`.tracing.started`).

        A closing command that recorded its event also records the handoff's life span.
        """
        start, counter = started
        end = start + int((time.perf_counter() - counter) * 1e9)
        self._records.append(
            (
                op, handoff.chain_id, handoff.id, handoff.parent_id, handoff.sender,
                handoff.receiver, handoff.kind, handoff.state, by, recorded, duplicate,
                error, start, end,
            )
        )  # fmt: skip
        if recorded and error is None and op in CLOSING:
            self._records.append(
                (
                    None, handoff.chain_id, handoff.id, handoff.parent_id, handoff.sender,
                    handoff.receiver, handoff.kind, handoff.state, handoff.escalation_count,
                    _ns(handoff.created_on), _ns(handoff.closed_at or handoff.modified_on),
                )
            )  # fmt: skip
        self._recorded()

    def refused(
        self,
        op: str,
        handoff_id: UUID | None,
        *,
        by: str | None,
        started: tuple[int, float],
        error: BaseException,
    ) -> None:
        """Record the span of a command refused before any handoff was found (no chain:
        a trace of its own)."""
        start, counter = started
        end = start + int((time.perf_counter() - counter) * 1e9)
        self._records.append(("refused", op, handoff_id, by, error, start, end))
        self._recorded()

    def _recorded(self) -> None:
        if len(self._records) >= BATCH:
            self._build()
        elif self._drainer is None and not self._closed:
            self._start_drainer()

    # ------------------------------------------------------------------ building

    def _build(self, *, wait: bool = False) -> None:
        """Build the recorded spans and hand them to the processors, oldest first (one
        thread at a time; a command finding another building leaves its span to it or
        to the next batch; a flush, ``wait``, waits for it)."""
        if not self._building.acquire(blocking=wait):
            return
        try:
            records, processors = self._records, self.processors
            while records:
                record = records.popleft()
                if record[0] is None:
                    span = self._life(record)
                elif record[0] == "refused":
                    span = self._refused(record)
                else:
                    span = self._command(record)
                if span is not None:
                    for processor in processors:
                        processor.on_end(span)
        finally:
            self._building.release()

    def _command(self, record: tuple[Any, ...]) -> ReadableSpan | None:
        (
            op, chain_id, handoff_id, parent_id, sender, receiver, kind, state, by,
            recorded, duplicate, error, start, end,
        ) = record  # fmt: skip
        trace_id = chain_id.int
        if not (self.samples_all or self._decide(trace_id)):
            return None
        text, life = self._context(trace_id, handoff_id)
        attributes: dict[str, Any] = {
            "handoff.id": text,
            "handoff.state": str(state),
            HANDOFF_SOURCE: sender,
            HANDOFF_TARGET: receiver,
            "gen_ai.agent.name": by,
            "handoff.recorded": recorded,
        }
        if kind is not None:
            attributes["handoff.kind"] = kind
        links: Sequence[Link] = ()
        if op in _SENDS:
            attributes["gen_ai.operation.name"] = "execute_tool"
            attributes["gen_ai.tool.name"] = "send_handoff"
            if duplicate is not None:
                attributes["handoff.duplicate"] = duplicate
            if parent_id is not None:
                attributes["handoff.parent_id"], parent_life = self._context(trace_id, parent_id)
                links = (Link(parent_life),)
        status = _OK
        if error is not None:
            attributes["error.type"] = type(error).__name__
            status = Status(StatusCode.ERROR, str(getattr(error, "message", error)))
        return ReadableSpan(
            name=f"handoff {op}",
            context=SpanContext(trace_id, random.getrandbits(64) or 1, False, _SAMPLED),
            parent=life,
            resource=self.resource,
            attributes=attributes,
            links=links,
            kind=SpanKind.INTERNAL,
            status=status,
            start_time=start,
            end_time=end,
            instrumentation_scope=self.scope,
        )

    def _refused(self, record: tuple[Any, ...]) -> ReadableSpan | None:
        _, op, handoff_id, by, error, start, end = record
        trace_id = random.getrandbits(128) or 1
        if not (self.samples_all or self._decide(trace_id)):
            return None
        attributes: dict[str, Any] = {"error.type": type(error).__name__}
        if handoff_id is not None:
            attributes["handoff.id"] = str(handoff_id)
        if by is not None:
            attributes["gen_ai.agent.name"] = by
        return ReadableSpan(
            name=f"handoff {op}",
            context=SpanContext(trace_id, random.getrandbits(64) or 1, False, _SAMPLED),
            resource=self.resource,
            attributes=attributes,
            kind=SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, str(getattr(error, "message", error))),
            start_time=start,
            end_time=end,
            instrumentation_scope=self.scope,
        )

    def _life(self, record: tuple[Any, ...]) -> ReadableSpan | None:
        """The span of a handoff's life, sent to closed, with its derived ids."""
        (
            _, chain_id, handoff_id, parent_id, sender, receiver, kind, state, escalations,
            start, end,
        ) = record  # fmt: skip
        trace_id = chain_id.int
        if not (self.samples_all or self._decide(trace_id)):
            return None
        attributes: dict[str, Any] = {
            "handoff.id": self._context(trace_id, handoff_id)[0],
            "handoff.chain_id": self._context(trace_id, chain_id)[0],
            "handoff.state": str(state),
            HANDOFF_SOURCE: sender,
            HANDOFF_TARGET: receiver,
            "handoff.escalations": escalations,
        }
        if kind is not None:
            attributes["handoff.kind"] = kind
        parent = None
        if parent_id is not None:
            attributes["handoff.parent_id"], parent = self._context(trace_id, parent_id)
        return ReadableSpan(
            name="handoff life",
            context=SpanContext(trace_id, span_id_of(handoff_id), False, _SAMPLED),
            parent=parent,
            resource=self.resource,
            attributes=attributes,
            kind=SpanKind.INTERNAL,
            status=_OK,
            start_time=start,
            end_time=max(end, start),
            instrumentation_scope=self.scope,
        )

    # ------------------------------------------------------------------ helpers

    def _decide(self, trace_id: int) -> bool:
        """The sampler's decision for a chain, asked as for its root span (kept per
        trace id, so a chain's spans ask once)."""
        decided = self._decisions.get(trace_id)
        if decided is None:
            result = self.sampler.should_sample(Context(), trace_id, "handoff")
            decided = result.decision is Decision.RECORD_AND_SAMPLE
            if len(self._decisions) >= _KEPT:
                self._decisions.clear()
            self._decisions[trace_id] = decided
        return decided

    def _context(self, trace_id: int, handoff_id: UUID) -> tuple[str, SpanContext]:
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

    def _start_drainer(self) -> None:
        """The thread that builds what fewer than :data:`BATCH` commands left, within
        :data:`DRAIN_SECONDS` (started by the first span recorded, in each process)."""
        with self._building:
            if self._drainer is not None:
                return
            self._drainer = threading.Thread(
                target=self._drain, name="handoff-ledger spans", daemon=True
            )
            self._drainer.start()

    def _drain(self) -> None:
        while not self._closed:
            self._wake.wait(DRAIN_SECONDS)
            if self._records:
                self._build()

    def _forked(self) -> None:
        """In a forked child: the parent's records are the parent's; no drainer yet."""
        self._records.clear()
        self._building = threading.Lock()
        self._drainer = None
