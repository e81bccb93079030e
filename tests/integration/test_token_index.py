"""The tokens are read through their own partial index, however long the log.

Listing tokens used to scan the whole events table (no index on topic): seconds on
a log of millions of events. Each store now reads them through ``hl_token_issues``
(:mod:`handoff_ledger.adapters.store.token_index`), asked here of the store's own
planner for the very statement the recorder runs; a store written before the index
gets it when opened for writing, and one opened read-only is read as it is.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.persistence import StoredEvent

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token, list_tokens
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.token_index import TOKEN_INDEX, TOKEN_TOPIC

OTHER_EVENTS = 3000


def _grow(ledger: Ledger, count: int = OTHER_EVENTS) -> None:
    """``count`` events of another topic: the log the tokens' read must not scan."""
    ledger.recorder.insert_events(
        [StoredEvent(uuid.uuid4(), 1, "tests.other:Event", b"x" * 200) for _ in range(count)]
    )


def _plan(ledger: Ledger) -> str:
    """The store's plan for the recorder's read of every token issued."""
    recorder: Any = ledger.recorder
    statement, params = recorder.notifications_query(1, 1_000_000, topics=[TOKEN_TOPIC])
    if isinstance(statement, str):  # SQLite
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            return "\n".join(str(row["detail"]) for row in cursor.fetchall())
    from psycopg.sql import SQL

    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f'ANALYZE "{recorder.datastore.schema}"."{recorder.events_table_name}"')
        cursor.execute(SQL("EXPLAIN ") + statement, params)
        return "\n".join(str(row["QUERY PLAN"]) for row in cursor.fetchall())


def _drop_index(ledger: Ledger) -> None:
    """Make the store one written before the index (code that did not create it)."""
    recorder: Any = ledger.recorder
    schema = getattr(recorder.datastore, "schema", None)
    name = f'"{schema}"."{TOKEN_INDEX}"' if schema else f'"{TOKEN_INDEX}"'
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DROP INDEX {name}")


def test_the_token_list_is_read_through_the_tokens_index(ledger: Ledger) -> None:
    issue_token(ledger, "code_agent")
    _grow(ledger)
    issue_token(ledger, "human:me", admin=True)
    plan = _plan(ledger)
    assert TOKEN_INDEX in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "SCAN stored_events" not in plan, plan
    assert [(t.agent, t.admin) for t in list_tokens(ledger)] == [
        ("code_agent", False),
        ("human:me", True),
    ]


def test_a_store_written_before_the_index_gets_it_when_opened(
    ledger: Ledger, store_url: str
) -> None:
    issue_token(ledger, "code_agent")
    _grow(ledger)
    _drop_index(ledger)
    assert TOKEN_INDEX not in _plan(ledger)
    reopened = open_ledger(store_url)
    try:
        assert TOKEN_INDEX in _plan(reopened)
        assert [t.agent for t in list_tokens(reopened)] == ["code_agent"]
    finally:
        reopened.close()


def test_a_store_without_the_index_opened_read_only_lists_its_tokens_as_it_is(
    sqlite_url: str,
) -> None:
    writer = open_ledger(sqlite_url)
    try:
        issue_token(writer, "code_agent")
        _drop_index(writer)
    finally:
        writer.close()
    reader = open_ledger(sqlite_url + "?mode=ro", create=False)
    try:
        assert TOKEN_INDEX not in _plan(reader)
        assert [t.agent for t in list_tokens(reader)] == ["code_agent"]
    finally:
        reader.close()
