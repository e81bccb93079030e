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
``ReadableSpan`` (what exporters read). A command only *records* what its span needs
(a tuple); a thread of this module builds the spans and exports them a batch at a
time, as the SDK's batch span processor does with live spans (:data:`BATCH` together,
at most :data:`QUEUE` waiting, the oldest dropped past that, every :data:`DELAY_SECONDS`
at the latest; a flush and the process's exit export the rest). Built one at a time
between commands, with the ledger's own work evicting the SDK's code and data from
the caches, and handed to the SDK's batch processor one by one, four spans cost about
6 % of a lifecycle's CPU; recorded, then built and exported together, under 5 %
(docs/performance.md). The SDK's ``Tracer.start_span`` path had cost 37 µs of CPU
per span (attribute validation, two sampler calls, a live span's lock).

Why this module is long (over 400 lines): one class, :class:`Tracing`, whose recording
(on the commands' threads), batching (its worker) and building share one queue, its
lock and the per-chain caches; split, they would share that private state across files.

Times are the ledger clock's (the system clock in production; the simulated one in
tests and the demo, so the command spans sit inside the life spans they belong to).
The sampler (``OTEL_TRACES_SAMPLER``) decides per chain, as for the chain's root
span, so a ratio sampler keeps or drops whole chains, the same way in every process.
"""

from __future__ import annotations

import atexit
import logging
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
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from handoff_ledger.domain.handoff import Handoff

__all__ = [
    "BATCH",
    "DELAY_SECONDS",
    "HANDOFF_SOURCE",
    "HANDOFF_TARGET",
    "QUEUE",
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

BATCH = 512
"""Spans built and exported together (``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``)."""
QUEUE = 2048
"""Spans kept waiting at most; past that the oldest are dropped (``OTEL_BSP_MAX_QUEUE_SIZE``)."""
DELAY_SECONDS = 5.0
"""At most this long between a command and its span's export (``OTEL_BSP_SCHEDULE_DELAY``)."""

log = logging.getLogger(__name__)

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
    """The ledger's spans, exported by its own exporters (the global tracer provider is
    left alone): it batches them as the SDK's batch span processor would.

    ``Tracing.to(exporter, ...)`` is how tests inject an in-memory exporter (then
    :meth:`force_flush` before reading it); :func:`.tracing.from_environment` builds
    one from the ``OTEL_*`` variables.
    """

    def __init__(
        self,
        exporters: Sequence[SpanExporter],
        resource: Resource,
        sampler: Sampler,
        *,
        batch: int = BATCH,
        queue: int = QUEUE,
        delay: float = DELAY_SECONDS,
    ) -> None:
        self.exporters = tuple(exporters)
        self.resource = resource
        self.sampler = sampler
        self.scope = _scope()
        queue = max(1, queue)
        self.batch, self.delay = min(max(1, batch), queue), delay  # as the SDK: batch ≤ queue
        description = sampler.get_description()
        self.samples_all = description == "AlwaysOnSampler" or description.startswith(
            "ParentBased{root:AlwaysOnSampler,"
        )
        """The default sampler (and ``always_on``) keeps every chain: nothing to ask."""
        self._decisions: dict[int, bool] = {}
        self._lives: dict[int, tuple[str, SpanContext]] = {}
        self._records: deque[tuple[Any, ...]] = deque(maxlen=queue)
        self._exporting = threading.Lock()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._closed = False
        atexit.register(self.shutdown)
        os.register_at_fork(after_in_child=self._forked)

    @classmethod
    def to(
        cls,
        *exporters: SpanExporter,
        resource: Resource | None = None,
        sampler: Sampler | None = None,
        **batching: Any,
    ) -> Tracing:
        """A tracing that exports every span to ``exporters``; the sampler by default is
        the one ``OTEL_TRACES_SAMPLER`` names (read by the SDK's tracer provider)."""
        if sampler is None:
            sampler = TracerProvider(shutdown_on_exit=False).sampler
        return cls(
            exporters,
            resource or Resource.create({"service.name": "handoff-ledger"}),
            sampler,
            **batching,
        )

    def force_flush(self) -> None:
        """Build and export every span recorded so far."""
        self._export()
        for exporter in self.exporters:
            exporter.force_flush()

    def shutdown(self) -> None:
        """Export what is pending and stop (also done at the process's exit)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30)
        self._export()
        for exporter in self.exporters:
            exporter.shutdown()

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
        if self._worker is None:
            self._start_worker()
        if len(self._records) >= self.batch and not self._wake.is_set():
            self._wake.set()

    # ------------------------------------------------------------------ building

    def _export(self) -> None:
        """Build the recorded spans, oldest first, and export them a batch at a time
        (one thread at a time: the worker, a flush, the exit)."""
        with self._exporting:
            records = self._records
            while records:
                spans: list[ReadableSpan] = []
                while records and len(spans) < self.batch:
                    record = records.popleft()
                    if record[0] is None:
                        span = self._life(record)
                    elif record[0] == "refused":
                        span = self._refused(record)
                    else:
                        span = self._command(record)
                    if span is not None:
                        spans.append(span)
                for exporter in self.exporters:
                    try:
                        exporter.export(spans)
                    except Exception:
                        log.exception("exporting %d spans failed", len(spans))

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

    def _start_worker(self) -> None:
        """The thread that exports a batch once it is full, and whatever is recorded
        within :data:`DELAY_SECONDS` (started by the first span recorded, per process)."""
        with self._exporting:
            if self._worker is not None or self._closed:
                return
            self._worker = threading.Thread(
                target=self._work, name="handoff-ledger spans", daemon=True
            )
            self._worker.start()

    def _work(self) -> None:
        while not self._closed:
            self._wake.wait(self.delay)
            self._wake.clear()
            if self._records and not self._closed:
                self._export()

    def _forked(self) -> None:
        """In a forked child: the parent's records are the parent's; no worker yet."""
        self._records.clear()
        self._exporting = threading.Lock()
        self._wake = threading.Event()
        self._worker = None
