"""Real races: ten processes act on one handoff at the same instant.

Each worker opens its own ledger (its own connections), waits at a barrier, then
issues its command, so the optimistic-concurrency check is exercised for real on
both stores. Exactly one winner; everyone else is told clearly, nothing overwritten.
"""

from __future__ import annotations

import multiprocessing
from typing import Any
from uuid import UUID

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import HandoffError, Refused

WORKERS = 10
pytestmark = pytest.mark.slow


def _race(url: str, command: str, handoff_id: str, index: int, barrier: Any, results: Any) -> None:
    try:
        _act(url, command, handoff_id, index, barrier, results)
    except BaseException as crash:  # noqa: BLE001 - report it rather than strand the others
        barrier.abort()
        results.put(("crash", repr(crash)))


def _act(url: str, command: str, handoff_id: str, index: int, barrier: Any, results: Any) -> None:
    ledger = open_ledger(url)
    try:
        hid = UUID(handoff_id) if command != "send" else None
        if hid is not None:
            ledger.get(hid)  # warm: connections open, classes loaded, before the start line
        barrier.wait(timeout=120)
        try:
            if command == "ack":
                assert hid is not None
                outcome = ledger.ack(hid, by="code_agent")
                results.put(("ok", "recorded" if outcome.recorded else "no-op"))
            elif command == "complete":
                assert hid is not None
                ledger.complete(hid, by="code_agent", result={"worker": index})
                results.put(("ok", index))
            elif command == "note":
                assert hid is not None
                ledger.add_note(hid, by=f"agent_{index}", message=f"note {index}")
                results.put(("ok", index))
            elif command == "send":
                sent = ledger.send(sender="inbox_monitor", to="code_agent", key=handoff_id)
                results.put(("ok", (str(sent.handoff.id), sent.duplicate)))
        except Refused as refusal:
            results.put(("refused", refusal.message))
        except HandoffError as error:
            results.put(("error", error.message))
    finally:
        ledger.close()


def run_race(url: str, command: str, handoff_id: str) -> list[tuple[str, Any]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    workers = [
        context.Process(target=_race, args=(url, command, handoff_id, i, barrier, results))
        for i in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    crashes = [detail for status, detail in outcomes if status == "crash"]
    assert not crashes, crashes
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def count(ledger: Ledger, event_type: str) -> int:
    return sum(type(e.event).__name__ == event_type for e in ledger.read_log())


def test_ten_processes_racing_to_ack_record_one_ack(ledger: Ledger, store_url: str) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    outcomes = run_race(store_url, "ack", str(handoff.id))
    assert [status for status, _ in outcomes] == ["ok"] * WORKERS
    assert sorted(detail for _, detail in outcomes) == ["no-op"] * (WORKERS - 1) + ["recorded"]
    assert count(ledger, "Acked") == 1


def test_ten_processes_racing_to_complete_one_wins(ledger: Ledger, store_url: str) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.ack(handoff.id, by="code_agent")
    outcomes = run_race(store_url, "complete", str(handoff.id))
    winners = [detail for status, detail in outcomes if status == "ok"]
    refusals = [detail for status, detail in outcomes if status == "refused"]
    assert len(winners) == 1
    assert len(refusals) == WORKERS - 1
    assert all("it is completed" in message for message in refusals)
    assert count(ledger, "Completed") == 1
    assert ledger.get(handoff.id).result == {"worker": winners[0]}


def test_ten_processes_adding_notes_all_get_through(ledger: Ledger, store_url: str) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    outcomes = run_race(store_url, "note", str(handoff.id))
    assert [status for status, _ in outcomes] == ["ok"] * WORKERS
    assert count(ledger, "NoteAdded") == WORKERS


def test_ten_processes_sending_one_key_create_one_handoff(ledger: Ledger, store_url: str) -> None:
    outcomes = run_race(store_url, "send", "msg_123")
    ids = {detail[0] for _, detail in outcomes}
    duplicates = sorted(detail[1] for _, detail in outcomes)
    assert len(ids) == 1
    assert duplicates == [False] + [True] * (WORKERS - 1)
    assert count(ledger, "Created") == 1
