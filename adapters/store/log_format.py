"""Where new PostgreSQL events get their log positions, and how far readers may read.

Positions are assigned by the writing transaction itself, from its own transaction
id (``pg_current_xact_id()``), so writers share no lock (issue 24)::

    position = offset + (xid << RANK_BITS) + rank      (rank = 1, 2, … within the save)

Log order is therefore (transaction id, rank) order. A reader reads only positions
at or below the *horizon*, ``offset + (xmin << RANK_BITS)`` where ``xmin`` is the
oldest transaction id still running in the cluster (``pg_snapshot_xmin`` of the
reading statement's own snapshot). Every transaction with a lower id has ended, so
no event can ever be committed at or below a horizon a reader has seen, and every
event committed later lands above it: a reader that moves its cursor only to
positions it has read never skips one. (The usual form of this technique, rows
ordered by a sequence and filtered on ``xid < xmin``, can skip: a transaction with
a lower xid may draw a higher sequence value than one with a higher xid that
commits first. Here the position *is* the xid, so the two orders are one.)

``offset`` makes every new position larger than any position of a store written
before this format (those came from the library's sequence); it is fixed when the
store is first opened by this code and kept in ``hl_log_format``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FORMAT_TABLE",
    "HORIZON_WAIT",
    "LOG_FORMAT",
    "MAX_EVENTS_PER_SAVE",
    "OLD_WRITER_MESSAGE",
    "RANK_BITS",
    "format_statements",
    "horizon_sql",
    "read_offset",
    "wait_until_readable",
]

RANK_BITS = 16
"""Positions per transaction id: a save may record up to 65,535 events. Positions
stay below 2**53 (exact in JavaScript's numbers) until transaction id 2**37."""
MAX_EVENTS_PER_SAVE = (1 << RANK_BITS) - 1
LOG_FORMAT = 2
"""1: positions from the library's sequence under its table lock; 2: this module."""
FORMAT_TABLE = "hl_log_format"
REFUSE_FUNCTION = "hl_refuse_old_writer"
OLD_WRITER_MESSAGE = (
    "handoff-ledger: the log positions of this store are assigned by handoff-ledger code with "
    "issue 24 (many writers, log format 2); this process runs older code that would "
    "record events readers skip: upgrade handoff-ledger to write here"
)


def horizon_sql(offset: int) -> str:
    """The highest position a statement may read: below every running transaction."""
    return f"({offset} + (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {RANK_BITS}))"


def format_statements(schema: str, table: str) -> list[str]:
    """Turn a store of format 1 (or a new one) into format 2; run once, under the
    setup lock, in one transaction.

    No row is touched: the offset is computed from the largest position stored, the
    position column's default (the library's sequence, which only older code uses)
    becomes a function that refuses, and the format is recorded.
    """
    qualified = f'"{schema}"."{table}"'
    marker = f'"{schema}"."{FORMAT_TABLE}"'
    refuse = f'"{schema}"."{REFUSE_FUNCTION}"'
    return [
        # Waits for a writer of the old code in flight (it holds this lock), and
        # keeps others out until the format is recorded.
        f"LOCK TABLE {qualified} IN EXCLUSIVE MODE",
        f"CREATE TABLE IF NOT EXISTS {marker} (format integer NOT NULL, "
        "position_offset bigint NOT NULL, first_xid bigint NOT NULL, "
        "recorded_at timestamptz NOT NULL DEFAULT now())",
        f"INSERT INTO {marker} (format, position_offset, first_xid) "
        f"SELECT {LOG_FORMAT}, GREATEST(0, COALESCE((SELECT max(notification_id) FROM "
        f"{qualified}), 0) + 1 - (pg_current_xact_id()::text::bigint << {RANK_BITS})), "
        f"pg_current_xact_id()::text::bigint WHERE NOT EXISTS (SELECT 1 FROM {marker})",
        f"CREATE OR REPLACE FUNCTION {refuse}() RETURNS bigint LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{OLD_WRITER_MESSAGE}' USING ERRCODE = "
        "'feature_not_supported'; END $$",
        f"ALTER TABLE {qualified} ALTER COLUMN notification_id SET DEFAULT {refuse}()",
    ]


def read_offset(cursor: Any, schema: str) -> int | None:
    """The store's position offset, or None while it is still of format 1."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS there", (f'"{schema}"."{FORMAT_TABLE}"',))
    row = cursor.fetchone()
    if not row or not _value(row, "there"):
        return None
    cursor.execute(f'SELECT position_offset FROM "{schema}"."{FORMAT_TABLE}"')
    row = cursor.fetchone()
    return None if row is None else int(_value(row, "position_offset"))


def _value(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, dict) else row[0]


HORIZON_WAIT = 2.0
"""Seconds a read that must see every event committed before it (a CLI read after a
write, an ``ack``'s queue position) waits for a transaction elsewhere to end before
it answers from what is readable."""


def wait_until_readable(recorder: Any, timeout: float = HORIZON_WAIT) -> bool:
    """Wait until every event committed before this call is readable (at most
    ``timeout`` s); False if a transaction elsewhere still holds the horizon. SQLite
    commits in position order, one writer at a time: nothing to wait for."""
    wait = getattr(recorder, "wait_for_committed", None)
    return True if wait is None else bool(wait(timeout))
