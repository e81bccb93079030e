"""A PostgreSQL store written before issue 24 opens, reads and grows under log format 2.

``tests/data/pg_before_i24/store.sql`` was dumped from a store the code of main at
8389cab wrote with ``make_store.py`` beside it (positions from the library's
sequence under its table lock): a protocol, a token, three bug reports (one
completed and followed up, one acked with a note and a watch, one escalated by the
reactor), the views caught up.

Today's code opens it (the format is recorded once and the tokens' index built: no
row of the log is touched, the guard would refuse it anyway), lists its token,
reads every old event at its old
position, keeps the old cursors (the views' tracking records, a log cursor), adds
events whose positions follow every old one, verifies every hash chain, and refuses
the old code's way of writing with a message that says why.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import NotSupportedError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from handoff_ledger.adapters.ledger.tokens import list_tokens
from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.log_format import OLD_WRITER_MESSAGE, RANK_BITS
from handoff_ledger.adapters.store.token_index import TOKEN_INDEX
from handoff_ledger.adapters.views import Views

DATA = Path(__file__).resolve().parent.parent / "data" / "pg_before_i24"
IDS = json.loads((DATA / "ids.json").read_text())
FIXTURE_SCHEMA = "hl_fixture_before_i24"
pytestmark = pytest.mark.postgres


@pytest.fixture
def old_store(pg_base_url: str) -> Iterator[tuple[str, str]]:
    """The dump replayed into a schema of this test's own: (URL, schema)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    script = (DATA / "store.sql").read_text().replace(FIXTURE_SCHEMA, schema)
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(script.encode())  # type: ignore[call-overload]
    yield f"{pg_base_url}?schema={schema}", schema
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _rows(base: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(base) as conn:
        return conn.execute(
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {}.ledger_events ORDER BY notification_id"
            ).format(sql.Identifier(schema))
        ).fetchall()


def _has_token_index(base: str, schema: str) -> bool:
    with psycopg.connect(base) as conn:
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{TOKEN_INDEX}"',)
        ).fetchone()
    return bool(row and row[0])


def test_an_old_store_is_read_extended_and_verified_with_no_old_row_changed(
    old_store: tuple[str, str],
) -> None:
    url, schema = old_store
    base = url.split("?")[0]
    before = _rows(base, schema)
    assert not _has_token_index(base, schema)
    ledger = open_ledger(url)
    assert _has_token_index(base, schema), "the tokens' index, built on opening"
    assert [t.agent for t in list_tokens(ledger)] == ["code_agent"]
    old = IDS["positions"]
    assert [e.position for e in ledger.read_log()] == old
    assert ledger.head() == max(row[0] for row in before)
    views = Views(ledger)
    assert views.catch_up() == 0, "the views' tracking records from before still hold"
    assert [e.position for e in ledger.read_log(after=old[4])] == old[5:], "an old cursor"

    acked, silent = uuid.UUID(IDS["acked"]), uuid.UUID(IDS["silent"])
    ledger.complete(acked, by="code_agent", result={"ok": True})
    ledger.ack(silent, by="code_agent")
    new = ledger.send(sender="inbox_monitor", to="code_agent", kind="bug_report").handoff
    grown = [e.position for e in ledger.read_log()]
    assert grown[: len(old)] == old
    added = grown[len(old) :]
    assert len(added) == 3
    assert added == sorted(added)
    assert added[0] > max(old)
    assert all(p >> RANK_BITS > 0 for p in added), "positions from transaction ids"
    assert [e.position for e in ledger.read_log(after=old[-1])] == added
    assert views.catch_up() == 3
    assert views.read.queue_position(str(new.id)) is not None

    report = verify_ledger(ledger)
    assert report.problems == [], report.problems
    after = _rows(base, schema)
    assert after[: len(before)] == before, "no old row changed"
    assert len(after) == len(before) + 3
    ledger.close()
    again = open_ledger(url, create=False)  # the format is recorded once, then read
    assert [e.position for e in again.read_log()] == grown
    again.close()


def test_the_old_codes_way_of_writing_is_refused_clearly(old_store: tuple[str, str]) -> None:
    """The library's recorder, as the code before issue 24 used it (its table lock,
    positions from the sequence), meets the upgraded store: nothing is written and
    the error says what to do."""
    url, _ = old_store
    ledger = open_ledger(url)
    library = PostgresApplicationRecorder(
        ledger.recorder.datastore,  # type: ignore[attr-defined]
        events_table_name="ledger_events",
    )
    head = ledger.head()
    with pytest.raises(NotSupportedError) as refused:
        library.insert_events([StoredEvent(uuid.uuid4(), 1, "some:Topic", b"{}")])
    assert OLD_WRITER_MESSAGE in str(refused.value)
    assert "upgrade handoff-ledger" in str(refused.value)
    assert ledger.head() == head
    ledger.close()
