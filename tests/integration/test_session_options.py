"""Every PostgreSQL connection the ledger opens has its lock waits bounded and JIT off."""

from __future__ import annotations

import pytest

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views


@pytest.mark.postgres
def test_the_ledgers_and_the_views_connections_run_without_jit(
    pg_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(pg_url + "&lock_timeout=7", clock=clock)
    try:
        with ledger.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT current_setting('jit') AS jit, current_setting('lock_timeout') AS lock"
            )
            row = cursor.fetchone()
        assert (row["jit"], row["lock"]) == ("off", "7s")
        views = Views(ledger)
        assert views.store.query("SELECT current_setting('jit') AS jit") == [{"jit": "off"}]
    finally:
        ledger.close()
