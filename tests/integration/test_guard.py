"""The log's guard is checked by its definition, and a broken one is never forgotten.

Each test is the database writer: a raw connection to the real SQLite file or
PostgreSQL schema, dropping, replacing or sidestepping the append-only triggers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.audit import AuditReport, verify_ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.urls import parse_store_url


@contextmanager
def writer(url: str) -> Iterator[tuple[Any, str]]:
    """A raw connection to the store (autocommit) and the events table's name."""
    store = parse_store_url(url)
    if store.backend == "sqlite":
        conn = sqlite3.connect(store.env["SQLITE_DBNAME"], isolation_level=None)
        try:
            yield conn, "stored_events"
        finally:
            conn.close()
        return
    env = store.env
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        user=env["POSTGRES_USER"],
        autocommit=True,
    ) as conn:
        yield conn, f'"{env["POSTGRES_SCHEMA"]}".ledger_events'


def verify(url: str, clock: SimulatedClock) -> AuditReport:
    """``audit verify`` as a new command would run it: open the store, check."""
    ledger = open_ledger(url, clock=clock)
    try:
        return verify_ledger(ledger)
    finally:
        ledger.close()


def guard_problems(report: AuditReport) -> list[str]:
    return [p.message for p in report.problems if p.problem == "guard"]


def a_small_log(url: str, clock: SimulatedClock) -> str:
    ledger = open_ledger(url, clock=clock)
    try:
        sent = ledger.send(sender="inbox_monitor", to="code_agent", payload={"n": 1})
        ledger.ack(sent.handoff.id, by="code_agent")
        return str(sent.handoff.id)
    finally:
        ledger.close()


def test_a_dropped_guard_is_reported_by_the_next_verify_and_every_one_after(
    store_url: str, clock: SimulatedClock
) -> None:
    a_small_log(store_url, clock)
    sqlite = store_url.startswith("sqlite")
    with writer(store_url) as (conn, table):
        if sqlite:
            conn.execute("DROP TRIGGER hl_events_no_delete")
        else:
            conn.execute(f"DROP TRIGGER hl_events_append_only ON {table}")
    a_small_log(store_url, clock)  # any command opening the store notices it
    for _ in range(2):
        report = verify(store_url, clock)
        (message,) = guard_problems(report)
        assert "missing triggers" in message
        assert "found broken at" in message
        assert not report.ok
    with writer(store_url) as (conn, table), pytest.raises(Exception, match="append-only"):
        conn.execute(f"DELETE FROM {table}")  # and the guard is back


def test_a_no_op_trigger_under_the_guards_name_is_reported(
    sqlite_url: str, clock: SimulatedClock
) -> None:
    a_small_log(sqlite_url, clock)
    with writer(sqlite_url) as (conn, table):
        conn.execute("DROP TRIGGER hl_events_no_update")
        conn.execute(
            f'CREATE TRIGGER "hl_events_no_update" BEFORE UPDATE ON "{table}" BEGIN SELECT 1; END'
        )
        conn.execute(f"UPDATE {table} SET state = state")
    for _ in range(2):
        (message,) = guard_problems(verify(sqlite_url, clock))
        assert "altered triggers: hl_events_no_update" in message


def test_insert_or_replace_cannot_rewrite_an_event(sqlite_url: str, clock: SimulatedClock) -> None:
    a_small_log(sqlite_url, clock)
    with writer(sqlite_url) as (conn, table):
        rowid, oid, version, topic = conn.execute(
            f"SELECT rowid, originator_id, originator_version, topic FROM {table} LIMIT 1"
        ).fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)",
                (oid, version, topic, b'{"forged": true}'),
            )
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(
                f"REPLACE INTO {table} (rowid, originator_id, originator_version, topic, state)"
                " VALUES (?, 'x', 1, ?, ?)",
                (rowid, topic, b"{}"),
            )


@pytest.mark.postgres
def test_a_rewritten_guard_function_is_reported(pg_url: str, clock: SimulatedClock) -> None:
    a_small_log(pg_url, clock)
    schema = parse_store_url(pg_url).env["POSTGRES_SCHEMA"]
    with writer(pg_url) as (conn, _):
        conn.execute(
            f'CREATE OR REPLACE FUNCTION "{schema}".hl_refuse_log_change() RETURNS trigger '
            "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        )
    for _ in range(2):
        (message,) = guard_problems(verify(pg_url, clock))
        assert "hl_refuse_log_change was rewritten" in message


@pytest.mark.postgres
def test_replica_sessions_do_not_skip_the_guard(pg_url: str, clock: SimulatedClock) -> None:
    a_small_log(pg_url, clock)
    with writer(pg_url) as (conn, table):
        conn.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(f"UPDATE {table} SET state = state")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(f"DELETE FROM {table}")
    assert verify(pg_url, clock).ok


@pytest.mark.postgres
def test_a_guard_switched_to_origin_only_is_reported(pg_url: str, clock: SimulatedClock) -> None:
    a_small_log(pg_url, clock)
    with writer(pg_url) as (conn, table):
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER hl_events_append_only")
    (message,) = guard_problems(verify(pg_url, clock))
    assert "session_replication_role" in message
