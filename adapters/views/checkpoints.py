"""Checkpoints for time travel: the small views folded up to a log position, kept.

An as-of answer (``inbox --as-of``, ``overdue --as-of``, the dashboard's slider)
folds the log in memory up to a time. On a long log most of that work is the same
every time, so a replay leaves behind, every ``CHECKPOINT_EVERY`` positions (on PostgreSQL
every ``CHECKPOINT_EVERY`` transaction ids: positions step by them there), the
rows of the views it folded, and a later replay starts from the latest checkpoint
it may use instead of from the first event.

A checkpoint at position B holds the fold of *every* event up to B (it is only
taken by a replay that skipped none of them), with ``max_us``, the latest time
stamped on any of them: a replay to T may start from it when ``max_us <= T``.
Events at or before B never change (the log is append-only, and a replay reads only
below the log's horizon, where no event can be added any more), so a checkpoint
stays true for as long as its projection's version is the one running; another
version's checkpoints are ignored, and ``projections rebuild`` drops the rebuilt
views' checkpoints (the code may have been fixed).

Only views whose size follows the open work, not the log, are checkpointed
(``CHECKPOINTED``): the queues, the timers, the agent board. A replay that also
wants the chains or the feeds folds from the start, as before.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError

from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.projections.base import Column, Projection
from handoff_ledger.projections.fold import MemoryViews

__all__ = ["CHECKPOINTED", "CHECKPOINT_EVERY", "Checkpoint", "ReplayCheckpoints"]

log = logging.getLogger(__name__)

CHECKPOINTED = frozenset({"queues", "timers", "agents"})
CHECKPOINT_EVERY = 10_000
"""Log positions between two checkpoints."""

_TABLE = "hl_replay_checkpoints"
_DDL_LOCK = 7_240_517_313


@dataclass(frozen=True)
class Checkpoint:
    """Where a replay may start: the position, its latest time, how many events."""

    position: int
    max_us: int
    events: int


class ReplayCheckpoints:
    """The checkpoint table of one ledger: find the best start, load it, save new ones."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.dialect = store.dialect
        self._ready = False

    def usable_for(self, projections: Sequence[Projection]) -> bool:
        """True when every one of these views is checkpointed."""
        return bool(projections) and all(p.name in CHECKPOINTED for p in projections)

    def best(self, projections: Sequence[Projection], until_us: int) -> Checkpoint | None:
        """The latest checkpoint every one of the views has and a replay to ``until_us`` may use."""
        if not self._exists():
            return None
        m = self.dialect.mark
        wanted = {(p.name, p.version) for p in projections}
        rows = self.store.query(
            f'SELECT "view", "version", "position", max_us, events FROM {self._t()} '
            f'WHERE max_us <= {m} ORDER BY "position" DESC',
            [until_us],
        )
        seen: dict[int, set[tuple[str, int]]] = {}
        for row in rows:
            views = seen.setdefault(int(row["position"]), set())
            views.add((row["view"], int(row["version"])))
            if wanted <= views:
                return Checkpoint(int(row["position"]), int(row["max_us"]), int(row["events"]))
        return None

    def load(self, memory: MemoryViews, checkpoint: Checkpoint) -> None:
        """Fill ``memory``'s tables with the rows saved at ``checkpoint``."""
        m = self.dialect.mark
        for projection in memory.projections:
            rows = self.store.query(
                f'SELECT "rows" FROM {self._t()} WHERE "view" = {m} AND "version" = {m} '
                f'AND "position" = {m}',
                [projection.name, projection.version, checkpoint.position],
            )
            tables = json.loads(zlib.decompress(bytes(rows[0]["rows"])))
            for name, table_rows in tables.items():
                table = memory.tables[name]
                for row in table_rows:
                    table.put(row)
        memory.position = checkpoint.position
        memory.applied = checkpoint.events

    def save(self, memory: MemoryViews, position: int, max_us: int) -> None:
        """Keep ``memory`` (the fold of every event up to ``position``) as a checkpoint.

        A failure to write is logged and forgotten: a checkpoint only saves time.
        """
        try:
            self._ensure_table()
            m = self.dialect.mark
            with self.store.transaction() as cursor:
                for projection in memory.projections:
                    tables = {
                        spec.name: list(memory.rows(spec.name).values())
                        for spec in projection.tables
                    }
                    blob = zlib.compress(json.dumps(tables, separators=(",", ":")).encode(), 1)
                    cursor.execute(
                        f'INSERT INTO {self._t()} ("view", "version", "position", max_us, '
                        f'events, "rows") VALUES ({m}, {m}, {m}, {m}, {m}, {m}) '
                        'ON CONFLICT ("view", "version", "position") DO NOTHING',
                        (projection.name, projection.version, position, max_us,
                         memory.applied, blob),
                    )  # fmt: skip
        except PersistenceError as error:
            log.warning("replay: checkpoint at position %s not saved: %s", position, error)

    def forget(self, view: str) -> None:
        """Drop every checkpoint of ``view``: its rows are being rebuilt, maybe by fixed code.

        A projection fixed without a new version number would otherwise go on
        answering as-of questions from checkpoints its old code folded.
        """
        if not self._exists():
            return
        with self.store.transaction() as cursor:
            cursor.execute(f'DELETE FROM {self._t()} WHERE "view" = {self.dialect.mark}', (view,))

    def _t(self) -> str:
        return self.dialect.table(_TABLE)

    def _exists(self) -> bool:
        if not self._ready:
            self._ready = _TABLE in self.store.existing_tables()
        return self._ready

    def _ensure_table(self) -> None:
        if self._exists():
            return
        integer = self.dialect.type_of(Column.INT)
        blob = "BYTEA" if self.dialect.backend == "postgresql" else "BLOB"
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS {self._t()} ("view" TEXT, "version" {integer}, '
                f'"position" {integer}, max_us {integer}, events {integer}, "rows" {blob}, '
                'PRIMARY KEY ("view", "version", "position"))'
            )
        self._ready = True
