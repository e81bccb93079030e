"""Where new PostgreSQL events get their log positions, and how far readers may read.

Positions are assigned by the writing transaction itself, from its own transaction
id (``pg_current_xact_id()``), so writers share no lock (issue 24)::

    position = offset + (xid << RANK_BITS) + rank      (rank = 1, 2, … within the save)

Log order is therefore (transaction id, rank) order. A reader reads only positions
at or below the *horizon*, ``offset + (h << RANK_BITS)``, where ``h`` is the oldest
transaction id among this ledger's *writers* still running (transactions holding a
writing lock on its events table), or, when none runs, the reading statement's
``pg_snapshot_xmax`` (one past the last transaction id that had ended). Every
transaction with a lower id that could record an event has ended, so no event can
ever be committed at or below a horizon a reader has seen, and every event committed
later lands above it: a reader that moves its cursor only to positions it has read
never skips one. (The usual form of this technique, rows ordered by a sequence and
filtered on ``xid < xmin``, can skip: a transaction with a lower xid may draw a
higher sequence value than one with a higher xid that commits first. Here the
position *is* the xid, so the two orders are one.)

Why only this ledger's writers: the cluster's oldest running transaction
(``pg_snapshot_xmin``) would do too, but then any transaction anywhere on the server
(another database, a ``psql`` session left open) holds every ledger's readers back.
Counting writers is sound because a writer of this code takes its lock on the events
table in the same statement that takes its transaction id (the insert), so a
transaction with an id older than the statement's snapshot either holds that lock,
is seen holding it, and bounds the horizon, or will never record an event; one
taking its id later has an id at or above the snapshot's ``xmax``. (A transaction
that took an id *before* it first writes the events table would break this: no code
of this project does, and code without issue 24 is refused by the store.)

The horizon is computed in a statement of its own and the read that uses it comes
after, with a later snapshot: an event below the horizon was committed before the
horizon's statement ended, so the read sees it.

A *fresh* read also waits (at most ``HORIZON_WAIT``) until the horizon passes every
event committed before it started, which a writer with a lower transaction id may
hold back for the moment of its transaction; so a process reads what another process
committed before it, not only its own writes.

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
    "horizon_statement",
    "read_offset",
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


def horizon_statement(offset: int, schema: str, table: str) -> str:
    """SQL answering ``committed`` (the last position visible to the statement) and
    ``horizon`` (the highest position a later statement may read): see the module."""
    qualified = f'"{schema}"."{table}"'
    literal = qualified.replace("'", "''")
    low32 = (1 << 32) - 1
    return (
        "WITH writers AS (SELECT own.transactionid::text::bigint AS xid32 FROM pg_locks "
        "AS held JOIN pg_locks AS own ON own.virtualtransaction = held.virtualtransaction "
        "AND own.locktype = 'transactionid' AND own.mode = 'ExclusiveLock' "
        "WHERE held.locktype = 'relation' "
        f"AND held.relation = '{literal}'::regclass "
        "AND held.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND held.mode NOT IN ('AccessShareLock', 'RowShareLock')) "
        f"SELECT (SELECT max(notification_id) FROM {qualified}) AS committed, "
        f"{offset} + (COALESCE((SELECT min(x::text::bigint) "
        "FROM pg_snapshot_xip(pg_current_snapshot()) AS x "
        f"WHERE (x::text::bigint & {low32}) IN (SELECT xid32 FROM writers)), "
        f"pg_snapshot_xmax(pg_current_snapshot())::text::bigint) << {RANK_BITS}) AS horizon"
    )


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
"""Seconds a read waits for a writer of this ledger, whose transaction began before an
event committed before the read, to end before it answers from what is readable. A
process waits so only once for the same writer: later reads answer at once until the
horizon moves."""
