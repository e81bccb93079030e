"""The questions agents and people ask, answered from the views by index lookups.

Every method returns plain rows (times as microseconds); :mod:`documents` turns
them into the JSON the interfaces print.
"""

from __future__ import annotations

from typing import Any

from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.projections.agents import AGENT_OPEN, AGENTS
from handoff_ledger.projections.chains import HANDOFFS
from handoff_ledger.projections.notifications import FEED, FEED_EVENTS
from handoff_ledger.projections.promises import AGENT_HANDOFFS, AGENT_PROMISES
from handoff_ledger.projections.queues import QUEUE
from handoff_ledger.projections.timers import TIMERS
from handoff_ledger.projections.work import HELD

__all__ = ["ViewReader"]

Row = dict[str, Any]


class ViewReader:
    """Read-only queries over the live view tables."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def inbox(self, agent: str, limit: int | None = None) -> list[Row]:
        """The agent's queue, head first (the first ``limit``), each with its ``queue_position``."""
        rows = self.store.query(
            f"SELECT * FROM {self.store.table(QUEUE)} WHERE receiver = ? "
            "ORDER BY neg_rank, created_us, handoff_id" + (" LIMIT ?" if limit else ""),
            [agent, limit] if limit else [agent],
        )
        for position, row in enumerate(rows, start=1):
            row["queue_position"] = position
        return rows

    def requested(self, agent: str, limit: int) -> list[Row]:
        """The agent's queue among handoffs nobody took yet (``requested``), head first."""
        return self.store.query(
            f"SELECT * FROM {self.store.table(QUEUE)} WHERE receiver = ? AND state = 'requested' "
            "ORDER BY neg_rank, created_us, handoff_id LIMIT ?",
            [agent, limit],
        )

    def held(self, agent: str, worker: str) -> list[Row]:
        """The open handoffs ``worker`` of ``agent`` took and has not finished, oldest first."""
        return self.store.query(
            f"SELECT * FROM {self.store.table(HELD)} WHERE receiver = ? AND worker = ? "
            "ORDER BY acked_us, handoff_id",
            [agent, worker],
        )

    def held_overdue(self, agent: str, now_us: int, limit: int) -> list[Row]:
        """Taken handoffs of ``agent`` whose update promise is past due, most overdue first;
        not blocked ones (stuck, need_help): they wait for a reply, not for a rerun."""
        return self.store.query(
            f"SELECT * FROM {self.store.table(HELD)} WHERE receiver = ? AND state <> 'blocked' "
            "AND update_due_us IS NOT NULL AND update_due_us <= ? "
            "ORDER BY update_due_us, handoff_id LIMIT ?",
            [agent, now_us, limit],
        )

    def queue_length(self, agent: str) -> int:
        """How many open handoffs the agent holds."""
        rows = self.store.query(
            f"SELECT count(*) AS n FROM {self.store.table(QUEUE)} WHERE receiver = ?", [agent]
        )
        return int(rows[0]["n"])

    def queue_position(self, handoff_id: str) -> int | None:
        """1-based position in its receiver's queue, or None if the handoff is not open."""
        queue = self.store.table(QUEUE)
        # One statement (one round trip, one snapshot): the handoff's row, and how
        # many of its receiver's open handoffs sort before it.
        found = self.store.query(
            f"SELECT (SELECT count(*) FROM {queue} AS o WHERE o.receiver = me.receiver "
            "AND (o.neg_rank, o.created_us, o.handoff_id) < (me.neg_rank, me.created_us, "
            f"me.handoff_id)) AS ahead FROM {queue} AS me WHERE me.handoff_id = ?",
            [handoff_id],
        )
        return int(found[0]["ahead"]) + 1 if found else None

    def overdue(self, now_us: int) -> list[Row]:
        """Every armed timer due at or before ``now_us``, earliest first."""
        return self.store.query(
            f"SELECT * FROM {self.store.table(TIMERS)} WHERE due_us <= ? "
            "ORDER BY due_us, handoff_id, reason",
            [now_us],
        )

    def due_steps(
        self, now_us: int, limit: int | None = None, after: Row | None = None
    ) -> list[Row]:
        """Armed timers whose next escalation step is due at ``now_us``, earliest first.

        ``after``: a row this query returned before; the rows that follow it in that
        order (the next page, read without the views having moved).
        """
        where, params = "next_due_us <= ?", [now_us]
        if after is not None:
            where += (
                " AND next_due_us >= ? AND (next_due_us > ? OR handoff_id > ? "
                "OR (handoff_id = ? AND reason > ?))"
            )
            due, handoff_id = after["next_due_us"], after["handoff_id"]
            params += [due, due, handoff_id, handoff_id, after["reason"]]
        return self.store.query(
            f"SELECT * FROM {self.store.table(TIMERS)} WHERE {where} "
            "ORDER BY next_due_us, handoff_id, reason" + (f" LIMIT {int(limit)}" if limit else ""),
            params,
        )

    def next_step_due(self) -> int | None:
        """When (µs) the earliest planned escalation step falls due, if any is planned."""
        rows = self.store.query(f"SELECT MIN(next_due_us) AS due FROM {self.store.table(TIMERS)}")
        return int(rows[0]["due"]) if rows and rows[0]["due"] is not None else None

    def timers_of(self, handoff_ids: list[str]) -> list[Row]:
        """The armed timers of some handoffs."""
        if not handoff_ids:
            return []
        marks = ", ".join("?" * len(handoff_ids))
        return self.store.query(
            f"SELECT * FROM {self.store.table(TIMERS)} WHERE handoff_id IN ({marks})",
            handoff_ids,
        )

    def chain(self, chain_id: str) -> list[Row]:
        """Every handoff of a chain, oldest first."""
        return self.store.query(
            f"SELECT * FROM {self.store.table(HANDOFFS)} WHERE chain_id = ? "
            "ORDER BY created_us, handoff_id",
            [chain_id],
        )

    def broken_chain_candidates(self, now_us: int) -> list[str]:
        """Chains that may have broken by ``now_us``: a superset ``gaps`` then checks.

        An open handoff past a promise or escalated, a declined or failed one, or a
        completed one of a declared kind, with nothing handed on from it. Everything else is
        whole by construction, so only these chains' histories are read.
        """
        table = self.store.table(HANDOFFS)
        rows = self.store.query(
            f"SELECT DISTINCT h.chain_id FROM {table} AS h WHERE ("
            "(h.state IN ('requested', 'acked', 'in_progress', 'blocked') AND ("
            "(h.acked_us IS NULL AND h.ack_due_us <= ?) OR h.update_due_us <= ? "
            "OR h.deadline_us <= ? OR h.escalations > 0)) "
            "OR ((h.state IN ('declined', 'failed') "
            "OR (h.state = 'completed' AND h.kind IS NOT NULL)) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} AS c "
            "WHERE c.chain_id = h.chain_id AND c.parent_id = h.handoff_id))) "
            "ORDER BY h.chain_id",
            [now_us, now_us, now_us],
        )
        return [row["chain_id"] for row in rows]

    def handoff(self, handoff_id: str) -> Row | None:
        """One handoff's summary row."""
        rows = self.store.query(
            f"SELECT * FROM {self.store.table(HANDOFFS)} WHERE handoff_id = ?", [handoff_id]
        )
        return rows[0] if rows else None

    def agents(self) -> list[Row]:
        """The agent board, with each agent's oldest open handoff."""
        rows = self.store.query(f"SELECT * FROM {self.store.table(AGENTS)} ORDER BY agent")
        for row in rows:
            oldest = self.store.query(
                f"SELECT handoff_id, created_us FROM {self.store.table(AGENT_OPEN)} "
                "WHERE receiver = ? ORDER BY created_us, handoff_id LIMIT 1",
                [row["agent"]],
            )
            row["oldest_open_id"] = oldest[0]["handoff_id"] if oldest else None
            row["oldest_open_us"] = oldest[0]["created_us"] if oldest else None
        return rows

    def promises(self, now_us: int, agent: str | None = None) -> list[Row]:
        """The promises that count at ``now_us``: judged, or open and past due."""
        values: list[Any]
        where, values = "(ended_us IS NOT NULL OR due_us < ?)", [now_us]
        if agent is not None:
            where += " AND agent = ?"
            values = [now_us, agent]
        return self.store.query(
            "SELECT agent, kind, promise, due_us, ended_us, outcome, late_us "
            f"FROM {self.store.table(AGENT_PROMISES)} WHERE {where}",
            values,
        )

    def completion_times(self, agent: str, kind: str | None, limit: int) -> list[int]:
        """Microseconds from its explicit ack to completion of ``agent``'s last ``limit``
        completed handoffs of ``kind`` (None: handoffs sent without one), newest first."""
        same_kind = "kind IS NULL" if kind is None else "kind = ?"
        rows = self.store.query(
            f"SELECT completed_us - acked_us AS took FROM {self.store.table(AGENT_HANDOFFS)} "
            f"WHERE receiver = ? AND {same_kind} AND completed_us IS NOT NULL "
            "AND acked_us IS NOT NULL ORDER BY completed_us DESC LIMIT ?",
            [agent, limit] if kind is None else [agent, kind, limit],
        )
        return [int(row["took"]) for row in rows]

    def notifications(self, agent: str, after: int = 0, limit: int = 100) -> list[Row]:
        """The agent's feed after cursor ``after``, oldest first."""
        return self.store.query(
            f"SELECT f.agent, e.* FROM {self.store.table(FEED)} AS f "
            f"JOIN {self.store.table(FEED_EVENTS)} AS e ON e.position = f.position "
            "WHERE f.agent = ? AND f.position > ? ORDER BY f.position LIMIT ?",
            [agent, after, limit],
        )

    def handed_to(
        self,
        receiver: str,
        *,
        sender: str | None = None,
        chain_id: str | None = None,
        states: list[str] | None = None,
        changed_after_us: int | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 50,
    ) -> tuple[list[Row], int]:
        """Handoffs (open or closed) now held by ``receiver``, newest change first, from
        ``sender`` only if given; a page of ``limit`` after the ``before`` keyset
        (last_event_us, handoff_id), and how many match in all (A2A's ListTasks)."""
        where: list[str] = ["receiver = ?"]
        values: list[Any] = [receiver]
        for column, value in (("sender", sender), ("chain_id", chain_id)):
            if value is not None:
                where.append(f"{column} = ?")
                values.append(value)
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            values.extend(states)
        if changed_after_us is not None:
            where.append("last_event_us > ?")
            values.append(changed_after_us)
        table, condition = self.store.table(HANDOFFS), " AND ".join(where)
        total = self.store.query(f"SELECT count(*) AS n FROM {table} WHERE {condition}", values)
        page_where, page_values = condition, list(values)
        if before is not None:
            page_where += " AND (last_event_us < ? OR (last_event_us = ? AND handoff_id < ?))"
            page_values += [before[0], before[0], before[1]]
        rows = self.store.query(
            f"SELECT handoff_id, last_event_us FROM {table} WHERE {page_where} "
            "ORDER BY last_event_us DESC, handoff_id DESC LIMIT ?",
            [*page_values, limit],
        )
        return rows, int(total[0]["n"])
