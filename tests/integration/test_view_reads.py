"""How a batch reads its rows on PostgreSQL: by index, whatever the planner would pick.

A batch fetches the rows of up to 2,000 partitions per query (``= ANY(array)``); for
that many keys the planner prefers a sequential scan of the whole table, two to three
times slower than the index on a table of 100,000 open handoffs (docs/performance.md).
The runner's reading transaction turns sequential and parallel scans off for itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views

pytestmark = pytest.mark.postgres


def test_a_batch_reads_its_partitions_by_index_and_the_setting_ends_with_it(
    pg_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(pg_url, clock=clock)
    try:
        ids = [
            str(ledger.send(sender="inbox_monitor", to=f"agent_{n % 3}").handoff.id)
            for n in range(300)
        ]
        views = Views(ledger)
        views.catch_up()
        store = views.store
        settings = (
            "SELECT current_setting('enable_seqscan') AS scan, "
            "current_setting('max_parallel_workers_per_gather') AS workers"
        )
        before = store.query(settings)
        assert before[0]["scan"] == "on"
        table = store.dialect.table("hl_handoffs")
        explain = f'EXPLAIN SELECT * FROM {table} WHERE "handoff_id" = ANY(%s::text[])'
        with store.transaction(commit=False) as reader:
            reader.execute(f"ANALYZE {table}")
            reader.execute(explain, [ids])
            planned = " ".join(str(row) for row in reader.fetchall())
            assert "Seq Scan" in planned  # every row asked for: the planner's own choice
            store.prefer_index_reads(reader)
            reader.execute(explain, [ids])
            chosen = " ".join(str(row) for row in reader.fetchall())
            assert "Seq Scan" not in chosen, chosen
            assert "Index" in chosen, chosen
        for _ in range(3):  # the pool's connections: none keeps the setting
            assert store.query(settings) == before
    finally:
        ledger.close()


def test_every_batch_the_runner_prepares_reads_by_index(
    pg_url: str, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = open_ledger(pg_url, clock=clock)
    try:
        for n in range(30):
            ledger.send(sender="inbox_monitor", to=f"agent_{n % 3}")
        views = Views(ledger)
        views.runner.batch_size = 10
        reads: list[str] = []
        prefer = views.store.prefer_index_reads

        def watched(cursor: Any) -> None:
            prefer(cursor)
            cursor.execute("SELECT current_setting('enable_seqscan') AS scan")
            reads.append(cursor.fetchone()["scan"])

        monkeypatch.setattr(views.store, "prefer_index_reads", watched)
        applied = views.catch_up()
    finally:
        ledger.close()
    assert applied >= 30
    assert len(reads) >= applied // 10  # one per batch prepared
    assert set(reads) == {"off"}
