"""A writer's transaction held open holds PostgreSQL readers at the log's horizon
(issue 24): they never read past it, the lag is reported, and waits are bounded; a
transaction that does not write this ledger's events holds nobody back; and a reader
that has not written waits (bounded) for what another process committed before it."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.queries import log_horizon
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.rows import log_rows
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.protocol import Protocol

pytestmark = [pytest.mark.postgres]


def _hold_writer(url: str) -> psycopg.Connection:
    """A transaction of a writer of the ledger at ``url``, open: its writing lock on the
    events table taken, then its transaction id (as an insert takes them)."""
    base, schema = url.split("?schema=")
    held = psycopg.connect(base)
    held.execute(
        sql.SQL("LOCK TABLE {}.ledger_events IN ROW EXCLUSIVE MODE").format(sql.Identifier(schema))
    )
    held.execute("SELECT pg_current_xact_id()")
    return held


def test_an_open_transaction_elsewhere_holds_readers_back_and_is_reported(
    pg_url: str, clock: SimulatedClock
) -> None:
    writer = open_ledger(pg_url, clock=clock)
    reader = open_ledger(pg_url, clock=clock, create=False)
    first = writer.send(sender="inbox_monitor", to="code_agent").handoff
    views = Views(reader)
    views.catch_up()
    with _hold_writer(pg_url) as held:
        clock.advance(timedelta(seconds=1))  # queued after the first
        second = writer.send(sender="inbox_monitor", to="code_agent").handoff
        assert [e.event.originator_id for e in reader.read_log()] == [first.id]
        horizon = log_horizon(reader)
        assert horizon is not None
        assert horizon["events_waiting"] >= 1
        assert horizon["oldest_transaction_seconds"] is not None
        assert reader.recorder.wait_for_committed(0.05) is False  # type: ignore[attr-defined]
        views.catch_up()
        assert views.read.queue_position(str(first.id)) == 1
        assert views.read.queue_position(str(second.id)) is None, "not readable yet"
        held.rollback()
    assert reader.recorder.wait_for_committed(10) is True  # type: ignore[attr-defined]
    assert [e.event.originator_id for e in reader.read_log()] == [first.id, second.id]
    views.catch_up()
    assert views.read.queue_position(str(second.id)) == 2
    writer.close()
    reader.close()


def test_a_what_if_run_reads_the_log_only_up_to_the_horizon(
    pg_url: str, clock: SimulatedClock
) -> None:
    writer = open_ledger(pg_url, clock=clock)
    reader = open_ledger(pg_url, clock=clock, create=False)
    since = clock.now()
    first = writer.send(sender="inbox_monitor", to="code_agent").handoff
    candidate = Protocol.parse("[agents.inbox_monitor]\n[agents.code_agent]\n")
    with _hold_writer(pg_url) as held:
        clock.advance(timedelta(seconds=1))
        second = writer.send(sender="inbox_monitor", to="code_agent").handoff
        rows = list(log_rows(reader, HANDOFF_TOPICS))
        assert [UUID(row[2]) for row in rows] == [first.id]
        simulation = Simulation(reader, candidate, since, clock.now())
        assert list(simulation) == []
        assert simulation.events_read == 1
        held.rollback()
    assert reader.recorder.wait_for_committed(10) is True  # type: ignore[attr-defined]
    rows = list(log_rows(reader, HANDOFF_TOPICS))
    assert [UUID(row[2]) for row in rows] == [first.id, second.id]
    writer.close()
    reader.close()


def test_a_transaction_that_writes_no_event_of_this_ledger_holds_no_reader_back(
    pg_url: str, clock: SimulatedClock
) -> None:
    """An id held in another database of the cluster, and one in this database by a
    transaction that touched another table, leave every event readable at once."""
    writer = open_ledger(pg_url, clock=clock)
    reader = open_ledger(pg_url, clock=clock, create=False)
    base, schema = pg_url.split("?schema=")
    first = writer.send(sender="inbox_monitor", to="code_agent").handoff
    with (
        psycopg.connect(base.rsplit("/", 1)[0] + "/postgres") as elsewhere,
        psycopg.connect(base) as beside,
    ):
        elsewhere.execute("SELECT pg_current_xact_id()")
        beside.execute(
            sql.SQL("CREATE TABLE {}.scratch (n int)").format(sql.Identifier(schema))
        )  # an id taken, a lock on another table of the same schema
        clock.advance(timedelta(seconds=1))
        second = writer.send(sender="inbox_monitor", to="code_agent").handoff
        assert reader.recorder.wait_for_committed(0.05) is True  # type: ignore[attr-defined]
        assert [e.event.originator_id for e in reader.read_log()] == [first.id, second.id]
        horizon = log_horizon(reader)
        assert horizon is not None
        assert horizon["events_waiting"] == 0
        assert horizon["oldest_transaction_seconds"] is None
        views = Views(reader)
        views.catch_up()
        assert views.read.queue_position(str(second.id)) == 2
        elsewhere.rollback()
        beside.rollback()
    writer.close()
    reader.close()


def test_a_reader_that_never_wrote_waits_for_what_another_committed_before_it(
    pg_url: str, clock: SimulatedClock
) -> None:
    """The event a second process committed before the read, held behind a writer
    whose transaction began earlier, is read once that writer ends within the bound:
    by the log and by the views (what a second MCP or CLI process reads)."""
    writer = open_ledger(pg_url, clock=clock)
    first = writer.send(sender="inbox_monitor", to="code_agent").handoff
    for read in ("log", "views"):
        held = _hold_writer(pg_url)  # an older transaction id than the send's below
        clock.advance(timedelta(seconds=1))
        sent = writer.send(sender="inbox_monitor", to="code_agent").handoff  # committed
        reader = open_ledger(pg_url, clock=clock, create=False)  # it has written nothing
        timer = threading.Timer(0.3, held.rollback)
        timer.start()
        try:
            if read == "log":
                ids = [e.event.originator_id for e in reader.read_log()]
                assert ids[0] == first.id
                assert ids[-1] == sent.id, "read without waiting for the older writer"
            else:
                views = Views(reader)
                views.catch_up()
                assert views.read.queue_position(str(sent.id)) is not None
        finally:
            timer.join()
            held.close()
            reader.close()
    writer.close()
