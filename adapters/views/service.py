"""``Views``: the read side of one ledger, kept current, rebuilt without downtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.log_format import RANK_BITS
from handoff_ledger.adapters.store.rows import stored_events
from handoff_ledger.adapters.views.checkpoints import CHECKPOINT_EVERY, ReplayCheckpoints
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.reader import ViewReader
from handoff_ledger.adapters.views.runner import VIEW_TOPICS, ViewRunner
from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.projections.base import Projection, us
from handoff_ledger.projections.fold import MemoryViews
from handoff_ledger.projections.registry import all_projections

__all__ = ["ViewStatus", "Views", "lag_text"]

_REPLAY_PAGE = 5000
_ANALYZE_AFTER = 10_000
"""After a catch-up this large, refresh the planner's statistics of the view tables."""


@dataclass(frozen=True)
class ViewStatus:
    """Where one view stands against the log."""

    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    code_version: int
    stored_version: int | None

    @property
    def stale(self) -> bool:
        """True when the stored rows were built by another projection version."""
        return self.stored_version is not None and self.stored_version != self.code_version


class Views:
    """Every view of one ledger: catch up, follow, query, rebuild."""

    def __init__(self, ledger: Ledger, projections: list[Projection] | None = None) -> None:
        self.ledger = ledger
        self.projections = projections if projections is not None else all_projections()
        self.store = ViewStore(ledger, self.projections)
        self.runner = ViewRunner(ledger, self.store, self.projections)
        self.read = ViewReader(self.store)
        self.checkpoints = ReplayCheckpoints(self.store)
        self.checkpoint_every = CHECKPOINT_EVERY
        """Log positions between the checkpoints a replay leaves (tests make it small)."""

    def projection(self, name: str) -> Projection:
        """The projection called ``name`` (bad input if there is none)."""
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections)
        raise InvalidInput(f"name: no view called {name!r} (views: {known})")

    def catch_up(self) -> int:
        """Apply every event not yet in the views; returns how many were applied."""
        applied = self.runner.catch_up()
        if applied >= _ANALYZE_AFTER:
            self.store.analyze()
        return applied

    def catch_up_parallel(self, workers: int = 2) -> int:
        """Catch up a long lag with a second process (``workers`` > 1) that writes.

        This process reads each batch of the log once, decodes it once and applies
        it to every view; a writer process commits it meanwhile (:mod:`writer`).
        (Before issue 25, the views were split over processes that each read and
        decoded the whole log.) Returns the events applied.
        """
        applied = self.runner.catch_up(separate_writer=workers > 1)
        if applied >= _ANALYZE_AFTER:
            self.store.analyze()
        return applied

    def rebuild_parallel(self, workers: int = 2) -> int:
        """Rebuild every view, with a writer process when ``workers`` > 1."""
        return self.rebuild(separate_writer=workers > 1)

    def run_forever(
        self, stop: threading.Event, poll_interval: float = 0.1, settle: float = 0.0
    ) -> None:
        """Follow the log until ``stop`` is set (``settle``: see ``ViewRunner.run_forever``)."""
        self.runner.run_forever(stop, poll_interval=poll_interval, settle=settle)

    def replay(self, until: datetime, names: list[str] | None = None) -> MemoryViews:
        """Every view (or the named ones) as it stood at ``until``, folded in memory.

        The same projection code as the live views, over each handoff's events
        recorded at or before ``until``, in log order; the live tables are not
        touched. Events are read and decoded the way the runner does (plain rows, the
        lean decoder). The log is in commit order, not time order (a slow
        transaction, a clock stepped back, two hosts' clocks apart), so the whole log
        is read: an event past ``until`` says nothing about the ones after it. Once a
        handoff has an event past ``until`` its later events are skipped too, as
        ``Ledger.history`` does (the same events: a handoff's recorded times never go
        backwards), so every handoff is folded from a prefix of its history.

        When every view asked for is checkpointed (:mod:`checkpoints`), the fold
        starts from the latest checkpoint it may use, and leaves new ones behind.
        """
        chosen = {p.name for p in self.projections} if not names else set(names)
        memory = MemoryViews(p for p in all_projections() if p.name in chosen)
        until_us = us(until) or 0
        saver = (
            self.checkpoints
            if not self.store.read_only and self.checkpoints.usable_for(memory.projections)
            else None
        )
        latest_us = 0
        if saver is not None:
            found = saver.best(memory.projections, until_us)
            if found is not None:
                saver.load(memory, found)
                latest_us = found.max_us
        every = self.checkpoint_every
        if self.store.dialect.backend == "postgresql":
            # Positions there step by transaction id (store/log_format.py): a checkpoint
            # every ``checkpoint_every`` transaction ids, not every so many positions.
            every <<= RANK_BITS
        boundary = (memory.position // every + 1) * every
        clean = True  # nothing skipped yet: the fold holds every event read so far
        stopped: set[Any] = set()  # handoffs with an event past ``until``
        decode = EventDecoder(self.ledger.mapper).decode_entry
        start = memory.position
        while True:
            with self.store.transaction(commit=False) as cursor:
                page = self.store.read_log(cursor, start, _REPLAY_PAGE, VIEW_TOPICS)
            for position, topic, originator_id, version, state in page:
                if saver is not None and clean and position > boundary:
                    # The fold holds every event before ``position``: it is the fold up
                    # to the last boundary before it (and to the ones between, which
                    # that latest one serves as well). One checkpoint per gap, however
                    # many boundaries a gap in positions spans.
                    boundary = (position - 1) // every * every
                    saver.save(memory, boundary, latest_us)
                    boundary += every
                if originator_id in stopped:
                    continue
                event: Any = decode(topic, originator_id, version, state)
                if event.timestamp > until:
                    clean = False
                    stopped.add(originator_id)
                    continue
                memory.apply(event, position)
                latest_us = max(latest_us, us(event.timestamp) or 0)
            if len(page) < _REPLAY_PAGE:
                return memory
            start = page[-1][0]

    def replay_handoffs(
        self, until: datetime, handoff_ids: list[str], names: list[str]
    ) -> MemoryViews:
        """The named views folded from only these handoffs' events up to ``until``.

        Each handoff's events stop at its first one past ``until``, as in
        :meth:`replay`.

        For views whose rows each belong to one handoff (``chains``), this gives
        those handoffs' rows as a replay of the whole log would, reading a few
        aggregates instead of the log.
        """
        memory = MemoryViews(p for p in all_projections() if p.name in names)
        decode = EventDecoder(self.ledger.mapper).decode_entry
        events = []
        for handoff_id in handoff_ids:
            for originator_id, version, topic, state, position in stored_events(
                self.ledger, UUID(handoff_id)
            ):
                if topic in VIEW_TOPICS:
                    event: Any = decode(topic, originator_id, version, state)
                    if event.timestamp > until:
                        break
                    events.append((position, event))
        for position, event in sorted(events, key=lambda pair: pair[0]):
            memory.apply(event, position)
        return memory

    def status(self) -> list[ViewStatus]:
        """Each view's position, the log's head, and how far behind it is."""
        names = [p.name for p in self.projections]
        positions = self.store.positions(names)
        versions = self.store.versions()
        head = self.ledger.head()
        now = time.time()
        statuses = []
        for projection in self.projections:
            position = positions[projection.name]
            behind = self.ledger.recorder.select_notifications(
                start=position + 1, limit=1, topics=VIEW_TOPICS
            )
            lag_seconds = 0.0
            if behind:
                first: Any = self.ledger.mapper.to_domain_event(behind[0])
                lag_seconds = max(0.0, now - first.timestamp.timestamp())
            pending = self.store.count_events_after(position, VIEW_TOPICS) if behind else 0
            statuses.append(
                ViewStatus(
                    name=projection.name,
                    position=position,
                    head=head,
                    lag_events=pending,
                    lag_seconds=lag_seconds,
                    code_version=projection.version,
                    stored_version=versions.get(projection.name),
                )
            )
        return statuses

    def rebuild(
        self,
        name: str | None = None,
        progress: Callable[[int], None] | None = None,
        batch_size: int = 5000,
        *,
        separate_writer: bool = False,
    ) -> int:
        """Replay the log into fresh tables beside the live ones, then swap them in.

        Every view asked for (all by default) is rebuilt by one runner: the log is
        read and decoded once. Readers keep reading the live tables until the swap,
        which is one short transaction for all of them; the live runner then
        continues from the rebuilt position. ``separate_writer``: see
        :meth:`ViewRunner.catch_up`.
        """
        targets = [self.projection(name)] if name else self.projections
        for projection in targets:
            self.checkpoints.forget(projection.name)
            self.store.drop_shadow(projection, f"{projection.name}~rebuild")
            self.store.create_tables(shadow=True, only=projection.name)
        shadow = ViewRunner(self.ledger, self.store, targets, batch_size=batch_size, shadow=True)
        replayed = shadow.catch_up(progress=progress, separate_writer=separate_writer)
        with self.store.transaction() as cursor:
            for projection in targets:
                self.store.swap_in_shadow(cursor, projection, f"{projection.name}~rebuild")
        self.store.analyze()
        return replayed


def lag_text(status: ViewStatus) -> str:
    """``3 events, 1.2 s`` or ``up to date``."""
    if status.lag_events == 0:
        return "up to date"
    return f"{status.lag_events} events, {status.lag_seconds:.1f} s"
