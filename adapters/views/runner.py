"""Keep the views up to date: catch up in batches, then follow new events.

One batch is one transaction: up to ``batch_size`` events are read from the log,
each projection that is behind applies them to its tables (rows fetched a partition
at a time, changes coalesced in memory), and the rows and every view's tracking
record are written together. If another runner applied the batch first, the
tracking record refuses to move backwards and the whole batch is rolled back, then
re-read from the new positions: every event lands in every view exactly once.

Following: on PostgreSQL the runner LISTENs for the events table's NOTIFY and also
polls, so a dropped connection only delays it until it reconnects; on SQLite it polls.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError
from eventsourcing.utils import get_topic

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.store.errors import waited_past_bound
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.listener import LogListener
from handoff_ledger.adapters.views.partitions import partitions_of, prefetch
from handoff_ledger.adapters.views.sql import BatchTable
from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.adapters.views.writer import (
    Pending,
    ProcessWriter,
    ThreadWriter,
    WriteOrder,
    Writer,
    write_batch,
)
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.watch import ChainWatch
from handoff_ledger.projections.base import Projection, text_id

__all__ = ["VIEW_TOPICS", "ViewRunner", "gc_paused"]

log = logging.getLogger(__name__)

VIEW_TOPICS = (*HANDOFF_TOPICS, get_topic(ChainWatch.Started))
"""What the views read: every handoff event and every chain watch."""

MAX_CONFLICTS = 20
CONFLICT_BACKOFF = 0.005
"""Seconds per conflict in a row (up to eight) a loser may wait, at random, before it
prepares its batch again: runners that started in step fall out of step, so one
runner does not lose to the others batch after batch."""


@dataclass
class _Batch:
    """A batch read, decoded and applied in memory, ready to be committed."""

    count: int
    last: int
    positions: dict[str, int]
    """Each tracking record's position when the batch was prepared."""
    generations: dict[str, int]
    tables: dict[str, dict[str, BatchTable]]
    """Each tracking name's tables: the next batch builds on their rows."""
    order: WriteOrder
    """What the writer commits."""


class ViewRunner:
    """Applies the log to a set of views (live, or a rebuild's shadow tables)."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 2000,
        shadow: bool = False,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.projections = list(projections if projections is not None else store.projections)
        self.batch_size = batch_size
        self.shadow = shadow
        self.reached = 0
        """A log position every one of these views is known to have applied, as last
        seen by this runner (a lower bound: a view may be further on). Two threads
        updating it at once may leave the lower of their values, still a true bound."""
        self.decoder = EventDecoder(ledger.mapper)

    def tracking_name(self, projection: Projection) -> str:
        """The tracking record this runner advances for ``projection``."""
        return f"{projection.name}~rebuild" if self.shadow else projection.name

    def catch_up(
        self,
        *,
        until: int | None = None,
        progress: Callable[[int], None] | None = None,
        separate_writer: bool = False,
    ) -> int:
        """Apply every event not yet in the views (up to ``until``); returns how many.

        Pipelined: while one batch is written and committed (by a writer thread), the
        next is read, decoded and applied in memory, on top of the rows the batch in
        flight left (``BatchTable.base``). If the batch in flight is refused, the one
        prepared on top of it is dropped with it and both are prepared again.
        ``separate_writer``: write in a process of its own (:mod:`writer`), for a
        long catch-up; otherwise in a thread of this one.

        The cyclic garbage collector is paused for the whole catch-up, not batch by
        batch: re-enabled after each batch was prepared, it collected at once, and
        traversed that batch's rows (still alive, being written): 5 to 6 µs per event,
        about a tenth of the preparing process's time (docs/performance.md). Once this
        returns, the batches are freed by reference counting before it resumes.
        """
        with gc_paused():
            return self._catch_up(until, progress, separate_writer)

    def _catch_up(
        self, until: int | None, progress: Callable[[int], None] | None, separate_writer: bool
    ) -> int:
        applied = 0
        conflicts = 0
        asked = until
        writer = self._writer(separate_writer)
        try:
            in_flight: Pending | None = None
            previous: _Batch | None = None
            while True:
                batch: _Batch | None = None
                try:
                    try:
                        batch = self._prepare(until, previous)
                    finally:
                        if in_flight is not None:
                            flight, in_flight = in_flight, None
                            flight.result()  # raises if the batch in flight was refused
                            assert previous is not None
                            applied += previous.count
                            conflicts = 0
                            self.reached = max(self.reached, previous.last)
                            if progress is not None:
                                progress(previous.count)
                except (IntegrityError, OperationalError) as conflict:
                    # IntegrityError: another runner applied this batch first. OperationalError:
                    # a lock conflict the database broke (deadlock, lock timeout). Either way
                    # nothing was written: re-read the positions and prepare the batch again.
                    conflicts += 1
                    if conflicts > MAX_CONFLICTS or waited_past_bound(conflict):
                        raise
                    log.info("views: batch not committed (%s); preparing it again", conflict)
                    previous, until = None, asked
                    time.sleep(random.uniform(0, CONFLICT_BACKOFF * min(conflicts, 8)))
                    continue
                if batch is None:
                    return applied
                in_flight, previous = writer.submit(batch.order), batch
                if batch.count < self.batch_size:
                    # A short batch read every event its snapshot held: done once it is
                    # committed (saves a round of reads that would find nothing).
                    until = batch.last if until is None else min(until, batch.last)
        finally:
            writer.close()

    def _writer(self, separate: bool) -> Writer:
        """A writer process (asked for, and the store is a file or a server), or a thread."""
        env = {key: str(value) for key, value in self.ledger.env.items()}
        if separate and "memory" not in env.get("SQLITE_DBNAME", ""):
            return ProcessWriter(env, [p.name for p in self.projections])
        return ThreadWriter(self.store)

    def run_batch(self, *, until: int | None = None) -> int:
        """Read, apply and commit one batch; returns the number of events applied."""
        batch = self._prepare(until, None)
        if batch is None:
            return 0
        write_batch(self.store, batch.order)
        self.reached = max(self.reached, batch.last)
        return batch.count

    def _prepare(self, until: int | None, previous: _Batch | None) -> _Batch | None:
        """Read a batch of the log, decode it once and apply it to every view in memory.

        The cyclic garbage collector is paused meanwhile: a batch allocates millions of
        short-lived rows and tuples (no cycles), and collections triggered by them
        cost about a quarter of the batch.

        One read transaction loads positions, events and rows. ``previous``: the
        batch before, maybe still being written: positions and generations are taken
        from it, and rows from its tables (the database may not hold them yet).
        """
        with gc_paused():
            return self._prepare_batch(until, previous)

    def _prepare_batch(self, until: int | None, previous: _Batch | None) -> _Batch | None:
        names = {self.tracking_name(p): p for p in self.projections}
        prepared = []
        with self.store.transaction(commit=False) as reader:
            self.store.prefer_index_reads(reader)
            generations: dict[str, int] = {}
            if previous is not None:
                last_done = previous.last
                positions = {n: max(p, last_done) for n, p in previous.positions.items()}
                generations = previous.generations
            elif self.shadow:
                positions = self.store.positions_in(reader, list(names))
            else:  # live views: tracking name = view name, both read in one statement
                positions, generations = self.store.positions_and_generations_in(
                    reader, list(names)
                )
            start = min(positions.values(), default=0)
            if previous is None:  # read from the tracking records: committed
                self.reached = max(self.reached, start)
            if until is not None and start >= until:
                return None
            entries = self.store.read_log(reader, start, self.batch_size, VIEW_TOPICS, until)
            if not entries:
                return None
            decode = self.decoder.decode_entry
            events: list[tuple[int, Any]] = [
                (position, decode(topic, originator_id, version, state))
                for position, topic, originator_id, version, state in entries
            ]
            last = entries[-1][0]
            # The partitions this batch touches, for the partition columns these views use.
            used = {
                spec.partition
                for projection in names.values()
                for spec in projection.tables
                if not spec.append_only
            }
            handoff_ids, chain_ids, agents = partitions_of(events, used)
            kinds = {type(e) for _, e in events}
            # Where handoffs were created and chains started (a chain starts with its
            # root handoff, whose id is the chain's id): those have no rows before.
            created_at: dict[str, int] = {}
            started_at: dict[str, int] = {}
            for p, e in events:
                if type(e) is Handoff.Created:
                    hid = text_id(e.originator_id)
                    created_at[hid] = p
                    if e.chain_id == e.originator_id:
                        started_at[hid] = p
            before = {} if previous is None else previous.tables
            for name, projection in names.items():
                behind = positions[name]
                todo = (
                    events if behind < events[0][0] else [(p, e) for p, e in events if p > behind]
                )
                if not todo:
                    continue
                tables = self.store.batch_tables(
                    reader, projection, shadow=self.shadow, base=before.get(name)
                )
                ignores = projection.ignores
                if ignores and not kinds.isdisjoint(ignores):
                    todo = [(p, e) for p, e in todo if not isinstance(e, ignores)]
                if todo:  # else nothing to apply: only the tracking record moves
                    if 2 * len(todo) < len(events):  # fetch only what these events touch
                        ids, chains, names_ = partitions_of(todo, used)
                    else:  # (rows of a few more partitions cost less than finding them)
                        ids, chains, names_ = handoff_ids, chain_ids, agents
                    # Handoffs created (chains started) in this batch have no rows yet here.
                    created = {h for h, p in created_at.items() if p > behind}
                    older = [h for h in ids if h not in created] if created else ids
                    started = {c for c, p in started_at.items() if p > behind}
                    going = [c for c in chains if c not in started] if started else chains
                    unread = projection.unread_by
                    if unread:
                        kinds_here = {type(e) for _, e in todo}
                        skip = {t for t, classes in unread.items() if kinds_here <= set(classes)}
                    else:
                        skip = set()
                    prefetch(tables, created, older, started, going, names_, skip)
                    for table_name, partitions in projection.related_partitions(
                        todo, tables
                    ).items():
                        tables[table_name].prefetch(partitions)
                    process = projection.process
                    for position, event in todo:
                        process(event, position, tables)
                prepared.append((name, projection, behind, tables))
        # One global order of views: two writers never lock meta rows crosswise.
        prepared.sort(key=lambda p: p[0])
        writes = [
            (name, projection.name, behind, [t.plan() for t in tables.values()])
            for name, projection, behind, tables in prepared
        ]
        return _Batch(
            count=len(events),
            last=last,
            positions=positions,
            generations=generations,
            tables={name: tables for name, _, _, tables in prepared},
            order=WriteOrder(last, generations, writes, self.shadow),
        )

    # ------------------------------------------------------------------ following

    def run_forever(
        self, stop: threading.Event, *, poll_interval: float = 0.1, settle: float = 0.0
    ) -> None:
        """Catch up, then follow new events until ``stop`` is set; survives lost connections.

        ``settle``: after new events are noticed, wait this long before catching up,
        so a burst of writes is applied as one batch (a follower that shares its
        process with request handlers, as in ``handoff serve``, then costs them little).
        """
        listener = LogListener(self.ledger) if self.store.dialect.backend == "postgresql" else None
        try:
            while not stop.is_set():
                try:
                    self.catch_up()
                except (PersistenceError, sqlite3.Error, OSError) as error:
                    log.warning("views: catching up failed (%s); retrying", error)
                    stop.wait(min(1.0, poll_interval * 10))
                    continue
                if listener is not None:
                    listener.wait(timeout=max(poll_interval, 1.0), stop=stop)
                else:
                    self._wait_for_new(stop, poll_interval)
                if settle:
                    stop.wait(settle)
        finally:
            if listener is not None:
                listener.close()

    def _wait_for_new(self, stop: threading.Event, poll_interval: float) -> None:
        seen = self.ledger.head()
        while not stop.is_set():
            if self.ledger.head() > seen:
                return
            stop.wait(poll_interval)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless someone else paused it)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
