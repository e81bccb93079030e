"""The A2A bridge's own record: which handoff became which remote task, and how far it got.

One row of ``hl_a2a_tasks`` per handoff delivered to a remote A2A agent, in the
ledger's own database (beside the views and the webhook deliveries), so a bridge
killed at any instruction resumes from it:

- ``task_id``: the remote task the ``SendMessage`` created; a row exists only once
  the send was answered. Killed before that, the bridge sends again with the same
  message id and idempotency key (``docs/a2a.md`` says what a remote may then see);
- ``seen``: the last remote status the bridge acted on (``state@timestamp``), so a
  status already recorded is not recorded again even after the ledger moved on (a
  reply turns ``need_help`` back into ``in_progress`` while the remote still says
  ``input-required``);
- ``replied_through``: the handoff version of the last ``Replied`` event passed on;
- ``closed``: nothing more to follow (the remote task or the handoff is terminal).

Every ledger write the bridge makes is also checked against the handoff's state
first, so the row is progress, never the only guard against recording twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.projections.base import Column

__all__ = ["TASKS", "RemoteTask", "RemoteTasks"]

TASKS = "hl_a2a_tasks"
_DDL_LOCK = 7_310_452_917  # pg_advisory_xact_lock key for creating the table


@dataclass(frozen=True)
class RemoteTask:
    """One row: the remote task a handoff was delivered as."""

    handoff_id: str
    agent: str
    task_id: str
    seen: str | None
    replied_through: int
    closed: bool


class RemoteTasks:
    """Reads and writes ``hl_a2a_tasks`` (created on first use)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.dialect = store.dialect
        self._ready = False

    def _t(self) -> str:
        return self.dialect.table(TASKS)

    def ensure(self) -> None:
        """Create the table once (no DDL at all once it exists)."""
        if self._ready or TASKS in self.store.existing_tables():
            self._ready = True
            return
        integer = self.dialect.type_of(Column.INT)
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self._t()} (handoff_id TEXT PRIMARY KEY, "
                f"agent TEXT, task_id TEXT, seen TEXT, replied_through {integer}, "
                f"closed {integer}, delivered_us {integer})"
            )
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS "{TASKS}_open" ON {self._t()} (agent) WHERE closed = 0'
            )
        self._ready = True

    def get(self, handoff_id: str) -> RemoteTask | None:
        """The handoff's remote task, if it was delivered."""
        rows = self.store.query(f"SELECT * FROM {self._t()} WHERE handoff_id = ?", [handoff_id])
        return _task(rows[0]) if rows else None

    def open_for(self, agent: str) -> list[RemoteTask]:
        """The agent's remote tasks still followed."""
        rows = self.store.query(
            f"SELECT * FROM {self._t()} WHERE agent = ? AND closed = 0 ORDER BY delivered_us",
            [agent],
        )
        return [_task(row) for row in rows]

    def open_agents(self) -> list[str]:
        """Agents with remote tasks still followed (one may have left the protocol)."""
        rows = self.store.query(f"SELECT DISTINCT agent FROM {self._t()} WHERE closed = 0")
        return sorted(str(row["agent"]) for row in rows)

    def delivered(self, handoff_id: str, agent: str, task_id: str, at_us: int) -> None:
        """Record the remote task a send created (a second record of it changes nothing)."""
        m = self.dialect.mark
        with self.store.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._t()} (handoff_id, agent, task_id, seen, replied_through, "
                f"closed, delivered_us) VALUES ({m}, {m}, {m}, NULL, 0, 0, {m}) "
                "ON CONFLICT (handoff_id) DO NOTHING",
                (handoff_id, agent, task_id, at_us),
            )

    def update(self, handoff_id: str, **changes: Any) -> None:
        """Move the row's progress (``seen``, ``replied_through``, ``closed``)."""
        m = self.dialect.mark
        names = sorted(changes)
        values = [int(v) if isinstance(v, bool) else v for v in (changes[n] for n in names)]
        with self.store.transaction() as cursor:
            cursor.execute(
                f"UPDATE {self._t()} SET {', '.join(f'{n} = {m}' for n in names)} "
                f"WHERE handoff_id = {m}",
                (*values, handoff_id),
            )


def _task(row: dict[str, Any]) -> RemoteTask:
    return RemoteTask(
        handoff_id=str(row["handoff_id"]),
        agent=str(row["agent"]),
        task_id=str(row["task_id"]),
        seen=row["seen"],
        replied_through=int(row["replied_through"] or 0),
        closed=bool(row["closed"]),
    )
