"""Time travel: ``replay --until T`` gives every view exactly as it stood live at T.

A recorded run: random commands under simulated time; at several moments T the
live views are caught up and captured. Afterwards the log is replayed in memory up
to each T, by the same projection code, and must equal what was captured, table by
table and row by row, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_views import POLICY_PROTOCOL, START_CLOCK, commands, drive, fresh_store, stored_tables

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.documents import view_document
from handoff_ledger.adapters.services.queries import chain_document
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.projections.fold import MemoryViews


def replayed_tables(memory: MemoryViews) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """The replay's tables in the shape ``stored_tables`` gives the live ones."""
    return {
        name: {key: {c: row.get(c) for c in table.spec.columns} for key, row in table.rows.items()}
        for name, table in memory.tables.items()
    }


def assert_traces_as_of(views: Views, moment: Any, rows: dict[Any, dict[str, Any]]) -> None:
    """``trace --as-of`` (which folds only the chain's own events) agrees with the capture."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        chains.setdefault(row["chain_id"], []).append(row)
    for chain_id, members in chains.items():
        expected = sorted(members, key=lambda r: (r["created_us"], r["handoff_id"]))
        document = chain_document(views, UUID(chain_id), moment)
        assert document["handoffs"] == [view_document(r) for r in expected], chain_id


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(segments=st.lists(commands, min_size=3, max_size=4))
def test_replay_until_t_equals_the_live_views_captured_at_t(
    backend: str, request: pytest.FixtureRequest, segments: list[list[Any]]
) -> None:
    base = request.getfixturevalue("pg_base_url") if backend == "postgresql" else None
    with fresh_store(backend, base) as url:
        clock = SimulatedClock.from_iso(START_CLOCK)
        ledger = open_ledger(url, clock=clock)
        try:
            views = Views(ledger)
            ledger.apply_protocol(POLICY_PROTOCOL, source="handoff.toml", by="human:me")
            captured = []
            for steps in segments:
                drive(ledger, views, clock, steps)
                views.catch_up()
                captured.append((clock.now(), stored_tables(views)))
                clock.advance(timedelta(seconds=1))  # nothing else happens at T
            drive(ledger, views, clock, segments[0])  # and the log goes on after the last T
            views.catch_up()
            for moment, live in captured:
                assert replayed_tables(views.replay(moment)) == live, f"replay at {moment}"
                assert_traces_as_of(views, moment, live["handoffs"])
            # The small views again, now from checkpoints every few positions: each
            # replay leaves some, and later ones (back in time too) start from them.
            views.checkpoint_every = 3
            small = ["queues", "timers", "agents"]
            for moment, live in [*captured, *reversed(captured)]:
                replayed = replayed_tables(views.replay(moment, small))
                assert replayed == {name: live[name] for name in replayed}, f"at {moment}"
            table = views.store.dialect.table("hl_replay_checkpoints")
            saved = views.store.query(f"SELECT count(*) AS n FROM {table}")
            assert saved[0]["n"] > 0
        finally:
            ledger.close()


def test_a_rebuild_forgets_the_rebuilt_views_checkpoints(ledger: Any, clock: Any) -> None:
    """A fixed projection, rebuilt, must not answer as-of questions from its old folds."""
    views = Views(ledger)
    views.checkpoint_every = 2
    for n in range(6):
        ledger.send(sender="inbox_monitor", to="code_agent", payload={"n": n})
        clock.advance(timedelta(seconds=1))
    views.catch_up()
    views.replay(clock.now(), ["queues", "timers"])
    table = views.store.dialect.table("hl_replay_checkpoints")

    def kept() -> dict[str, int]:
        rows = views.store.query(f'SELECT "view", count(*) AS n FROM {table} GROUP BY "view"')
        return {row["view"]: int(row["n"]) for row in rows}

    assert set(kept()) == {"queues", "timers"}
    views.rebuild("queues")
    assert set(kept()) == {"timers"}
