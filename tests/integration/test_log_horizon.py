"""A transaction held open elsewhere holds PostgreSQL readers at the log's horizon
(issue 24): they never read past it, the lag is reported, and waits are bounded."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import psycopg
import pytest

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.queries import log_horizon
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.rows import log_rows
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.protocol import Protocol

pytestmark = [pytest.mark.postgres, pytest.mark.holds_horizon]


def test_an_open_transaction_elsewhere_holds_readers_back_and_is_reported(
    pg_url: str, clock: SimulatedClock
) -> None:
    writer = open_ledger(pg_url, clock=clock)
    reader = open_ledger(pg_url, clock=clock, create=False)
    first = writer.send(sender="inbox_monitor", to="code_agent").handoff
    views = Views(reader)
    views.catch_up()
    with psycopg.connect(pg_url.split("?")[0]) as held:
        held.execute("SELECT pg_current_xact_id()")  # an id taken, the transaction open
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
    with psycopg.connect(pg_url.split("?")[0]) as held:
        held.execute("SELECT pg_current_xact_id()")  # an id taken, the transaction open
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
