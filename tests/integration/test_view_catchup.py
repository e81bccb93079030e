"""A long catch-up reads and decodes the log once, leaves the hashes out, and still
lands every event in every view once (issue 25 item 3).

Each batch is read once, decoded once and applied to every view; it is committed by
a writer (a thread, or for a long catch-up a process of its own) while the next batch
is prepared on top of its rows. The hash chain's fields are cut out of what the views
read, by the database.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from typing import Any

from test_view_failures import fill_log, kill_catch_ups
from test_views import assert_views_match_fold

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.projections.notifications import FEED_EVENTS


def test_views_read_the_log_without_the_hash_chain(ledger: Ledger, clock: SimulatedClock) -> None:
    fill_log(ledger, clock, 20)
    ledger.send(sender="inbox_monitor", to="code_agent", payload={"prev_hash": "x", "hash": "y"})
    views = Views(ledger)
    with views.store.transaction(commit=False) as cursor:
        entries = views.store.read_log(cursor, 0, 1000, VIEW_TOPICS)
    whole = {n.id: n for n in ledger.recorder.select_notifications(1, 1000, topics=VIEW_TOPICS)}
    assert len(entries) == len(whole) > 40
    for position, _, _, _, state in entries:
        lean, stored = json.loads(bytes(state)), json.loads(whole[position].state)
        assert "prev_hash" not in lean, lean
        assert "hash" not in lean, lean
        assert len(stored["hash"]) == 64  # the log itself keeps them
        del stored["prev_hash"], stored["hash"]
        assert list(lean.items()) == list(stored.items())  # the rest, in the same order
    # A payload's own keys of those names are the payload's: kept.
    assert json.loads(bytes(entries[-1][4]))["payload"] == {"prev_hash": "x", "hash": "y"}
    views.catch_up()
    details = views.store.query(f"SELECT detail FROM {views.store.table(FEED_EVENTS)}")
    assert details
    for row in details:
        detail = json.loads(row["detail"])
        assert not {"prev_hash", "hash", "scheme"} & detail.keys(), detail
    assert_views_match_fold(ledger, views)


def test_a_rebuild_of_every_view_reads_the_log_once(ledger: Ledger, clock: SimulatedClock) -> None:
    fill_log(ledger, clock, 60)
    views = Views(ledger)
    views.catch_up()
    reads: list[int] = []
    read_log = views.store.read_log

    def counted(cursor: Any, start: int, limit: int, *args: Any, **kwargs: Any) -> Any:
        entries = read_log(cursor, start, limit, *args, **kwargs)
        reads.extend(position for position, *_ in entries)
        return entries

    views.store.read_log = counted  # type: ignore[method-assign]
    replayed = views.rebuild(batch_size=50)
    assert replayed == len(reads) > 100
    assert len(set(reads)) == len(reads)  # no event read twice, though six views were rebuilt
    assert_views_match_fold(ledger, views)


def test_a_writer_process_and_a_runner_beside_it_apply_every_event_once(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    fill_log(ledger, clock, 400)
    racing = Views(ledger)
    racing.runner.batch_size = 40
    errors: list[BaseException] = []

    def race() -> None:
        try:
            racing.catch_up()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    views = Views(ledger)
    views.runner.batch_size = 30
    beside = threading.Thread(target=race)
    beside.start()
    views.catch_up_parallel(2)  # its batches committed by a writer process
    beside.join()
    assert not errors
    views.catch_up()
    names = [p.name for p in views.projections]
    head = ledger.recorder.max_notification_id()
    assert set(views.store.positions(names).values()) == {head}
    assert_views_match_fold(ledger, views)


CATCH_UP_WITH_A_WRITER = """
import sys
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
views = Views(open_ledger(sys.argv[1]))
views.runner.batch_size = 150
views.catch_up_parallel(2)
"""


def test_a_sigkilled_catch_up_with_a_writer_process_restarts_to_identical_views(
    store_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(store_url, clock=clock)
    try:
        fill_log(ledger, clock, 1500)
        views = Views(ledger)
        names = [p.name for p in views.projections]
        head = ledger.recorder.max_notification_id() or 0
        # Killed at different points, its writer process left behind.
        interrupted = kill_catch_ups(
            views,
            head,
            lambda: subprocess.Popen(
                [sys.executable, "-c", CATCH_UP_WITH_A_WRITER, store_url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
        assert interrupted >= 1, "every catch-up finished before it could be killed"
        assert min(views.store.positions(names).values()) > 0, "the catch-up never got going"
        views.catch_up()
        assert_views_match_fold(ledger, views)
    finally:
        ledger.close()


def test_no_cyclic_garbage_collection_runs_while_the_views_catch_up(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """The collector is paused for the whole catch-up, not batch by batch: re-enabled
    between batches it collected at once and traversed the batch being written."""
    fill_log(ledger, clock, 60)
    views = Views(ledger)
    views.runner.batch_size = 40  # several batches, each allocating far past gen 0's 700
    collections: list[int] = []

    def counted(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(counted)
    try:
        applied = views.runner.catch_up()
    finally:
        gc.callbacks.remove(counted)
    batches = -(-applied // views.runner.batch_size)
    assert batches >= 4
    # At most the one the collector runs as it resumes (paused batch by batch, one
    # after every batch: ``batches`` of them).
    assert len(collections) <= 1, collections
    assert gc.isenabled()  # resumed
    assert_views_match_fold(ledger, views)
