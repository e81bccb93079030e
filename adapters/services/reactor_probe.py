"""The idle reactor pass: one cheap read says whether a pass has anything to do.

A pass that finds nothing to do (most of them: a reactor passes every second) used
to ask each of its steps in turn: the views' positions and the log's head, the due
steps, the follow-ups' position and the head again, the protocol, the A2A push
table and the due deliveries (about twelve round trips on PostgreSQL). Here one
statement reads what any of them would act on:

- the log's top (its highest position) and every position a pass moves (each
  view's and the follow-ups'; their count, lowest and sum: positions only go
  forward, so the sum moves when any does);
- when the next escalation step falls due, and when the next undelivered webhook
  delivery may be sent (or its lease runs out);
- the A2A push configurations (their count and the sum of their cursors: a new one,
  or one moved by another reactor), or whether the table exists yet.

A pass is skipped, but for its pass row (``reactor_passes.py``), only when that read
equals the one taken just before the last pass this reactor ran whole, that read
found every position at the log's top, and nothing falls due yet. The whole pass
then started with nothing in the log that its steps had not read, and handled all
of it (its follow-ups up to the head, the views caught up, the feed's entries
enqueued); any event since moves the top, any other writer's catch-up moves a
position, any new configuration moves the push figures. A skipped pass has nothing
to do that the pass before did not do. The first pass, and the one after any pass
that did something, run whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.a2a_push import PUSH
from handoff_ledger.adapters.services.webhooks import DELIVERIES, Deliveries
from handoff_ledger.adapters.views import Views
from handoff_ledger.projections.base import us
from handoff_ledger.projections.timers import TIMERS

__all__ = ["IdleProbe", "Probe"]


@dataclass(frozen=True)
class Probe:
    """What one probe read (see the module)."""

    top: int
    positions: tuple[int, int, int]
    """Count, lowest and sum of the positions a pass moves."""
    pushes: tuple[int, int] | None
    """Count of A2A push configurations and sum of their cursors; None: no table yet."""
    next_due_us: int | None
    """The earliest due time of an escalation step or a webhook delivery."""

    @property
    def settled(self) -> bool:
        """Every position a pass moves is at the log's top."""
        return self.positions[1] >= self.top

    def same_as(self, other: Probe | None) -> bool:
        """Nothing moved between ``other`` and this read (due times aside)."""
        return other is not None and (self.top, self.positions, self.pushes) == (
            other.top,
            other.positions,
            other.pushes,
        )


class IdleProbe:
    """Tells a reactor when a pass may be skipped: :meth:`idle`, then :meth:`ran`."""

    def __init__(
        self, ledger: Ledger, views: Views, deliveries: Deliveries, tracked: list[str]
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.deliveries = deliveries
        self.tracked = tracked
        """The tracking names a pass moves (each view's, the follow-ups')."""
        self._before_last: Probe | None = None
        """The read taken just before the last whole pass, if every position was at the top."""
        self._pending: Probe | None = None

    def idle(self) -> bool:
        """True when this pass has nothing to do (one read). False on a reactor's first
        pass: the deliveries' tables may not exist before it."""
        probe = self.read() if self.deliveries.tables_ready() else None
        now_us = us(self.ledger.clock.now()) or 0
        if (
            probe is not None
            and probe.same_as(self._before_last)
            and (probe.next_due_us is None or probe.next_due_us > now_us)
            and probe.settled
        ):
            return True
        self._before_last = None  # until this whole pass has run
        self._pending = probe
        return False

    def ran(self) -> None:
        """The whole pass after the last :meth:`idle` ran to its end."""
        pending, self._pending = self._pending, None
        self._before_last = pending if pending is not None and pending.settled else None

    def read(self) -> Probe:
        """One statement: the log's top, the positions, the push figures, what falls due."""
        store = self.views.store
        dialect = store.dialect
        name = str(self.ledger.recorder.events_table_name)  # type: ignore[attr-defined]
        if dialect.backend == "sqlite":  # the library numbers SQLite events by rowid
            events, top = f'"{name}"', "max(rowid)"
        else:
            events, top = dialect.table(name), "max(notification_id)"
        marks = ", ".join("?" * len(self.tracked))
        pushes = self._pushes_sql()
        rows = store.query(
            f"SELECT (SELECT {top} FROM {events}) AS top, "
            f"(SELECT count(*) FROM {store.tracking_table} WHERE application_name IN ({marks})) "
            "AS n, "
            f"(SELECT min(notification_id) FROM {store.tracking_table} "
            f"WHERE application_name IN ({marks})) AS low, "
            f"(SELECT sum(notification_id) FROM {store.tracking_table} "
            f"WHERE application_name IN ({marks})) AS total, "
            f"(SELECT min(next_due_us) FROM {store.table(TIMERS)}) AS step_due, "
            f"(SELECT min(next_at_us) FROM {dialect.table(DELIVERIES)} "
            "WHERE delivered_us IS NULL) AS delivery_due, "
            f"{pushes}",
            [*self.tracked, *self.tracked, *self.tracked],
        )
        row = rows[0]
        count = int(row["n"] or 0)
        positions = (count, int(row["low"] or 0) if count == len(self.tracked) else 0,
                     int(row["total"] or 0))  # fmt: skip
        dues = [int(row[k]) for k in ("step_due", "delivery_due") if row[k] is not None]
        return Probe(
            top=int(row["top"] or 0),
            positions=positions,
            pushes=_pushes(row),
            next_due_us=min(dues) if dues else None,
        )

    def _pushes_sql(self) -> str:
        """The push figures' columns: the table's, or whether it exists yet."""
        dialect = self.views.store.dialect
        table = dialect.table(PUSH)
        if self.deliveries.pushes_ready():
            return (
                f"(SELECT count(*) FROM {table}) AS push_n, "
                f"(SELECT sum(cursor) FROM {table}) AS push_sum, 1 AS push_table"
            )
        if dialect.backend == "postgresql":
            quoted = table.replace("'", "''")
            found = f"(SELECT count(to_regclass('{quoted}')))"
        else:
            found = f"(SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{PUSH}')"
        return f"0 AS push_n, 0 AS push_sum, {found} - 1 AS push_table"


def _pushes(row: dict[str, Any]) -> tuple[int, int] | None:
    """The push figures, or None while the table does not exist."""
    if int(row["push_table"]) < 0:
        return None
    return int(row["push_n"] or 0), int(row["push_sum"] or 0)
