"""Real races: ten processes act on one handoff at the same instant (four in ``make
test``, ten in the ``soak`` run: the same assertions, n - 1 collisions).

Each worker opens its own ledger (its own connections) and issues its command; the
barrier is the worker's clock, whose first reading waits for every other worker.
A command reads the clock after loading the handoff and before saving, so all ten
decide on the same version and the optimistic-concurrency check is exercised for
real on both stores: exactly one winner, nine collisions, each loser re-run against
the winner's state and told clearly, nothing overwritten. Each worker reports how
many races its ledger lost (``Ledger.lost_races``), so the tests prove the
collisions happened: a serialised run would pass the outcome checks, not those.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from sizes import short_and_full

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import HandoffError, Refused

pytestmark = [pytest.mark.slow, short_and_full("workers", 4, 10)]


def _race(url: str, command: str, handoff_id: str, index: int, barrier: Any, results: Any) -> None:
    try:
        _act(url, command, handoff_id, index, barrier, results)
    except BaseException as crash:  # noqa: BLE001 - report it rather than strand the others
        barrier.abort()
        results.put(("crash", repr(crash), 0))


class StartLine:
    """Wall-clock time whose first reading waits at the barrier for every racer."""

    def __init__(self, barrier: Any) -> None:
        self.barrier = barrier
        self.crossed = False

    def now(self) -> datetime:
        if not self.crossed:
            self.crossed = True
            self.barrier.wait(timeout=120)
        return datetime.now(UTC)


def _act(url: str, command: str, handoff_id: str, index: int, barrier: Any, results: Any) -> None:
    ledger = open_ledger(url, clock=StartLine(barrier))
    try:
        hid = UUID(handoff_id) if command != "send" else None
        if hid is not None:
            ledger.get(hid)  # warm: connections open, classes loaded, before the start line
        try:
            if command == "ack":
                assert hid is not None
                outcome = ledger.ack(hid, by="code_agent")
                results.put(("ok", "recorded" if outcome.recorded else "no-op", ledger.lost_races))
            elif command == "complete":
                assert hid is not None
                ledger.complete(hid, by="code_agent", result={"worker": index})
                results.put(("ok", index, ledger.lost_races))
            elif command == "note":
                assert hid is not None
                ledger.add_note(hid, by=f"agent_{index}", message=f"note {index}")
                results.put(("ok", index, ledger.lost_races))
            elif command == "send":
                sent = ledger.send(sender="inbox_monitor", to="code_agent", key=handoff_id)
                results.put(("ok", (str(sent.handoff.id), sent.duplicate), ledger.lost_races))
        except Refused as refusal:
            results.put(("refused", refusal.message, ledger.lost_races))
        except HandoffError as error:
            results.put(("error", error.message, ledger.lost_races))
    finally:
        ledger.close()


def run_race(url: str, command: str, handoff_id: str, workers: int) -> list[tuple[str, Any, int]]:
    """Each of ``workers`` processes' (status, detail, races its ledger lost)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_race, args=(url, command, handoff_id, i, barrier, results))
        for i in range(workers)
    ]
    for worker in processes:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    crashes = [detail for status, detail, _ in outcomes if status == "crash"]
    assert not crashes, crashes
    for worker in processes:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def count(ledger: Ledger, event_type: str) -> int:
    return sum(type(e.event).__name__ == event_type for e in ledger.read_log())


def test_processes_racing_to_ack_record_one_ack(
    ledger: Ledger, store_url: str, workers: int
) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    outcomes = run_race(store_url, "ack", str(handoff.id), workers)
    assert [status for status, _, _ in outcomes] == ["ok"] * workers
    assert sorted(detail for _, detail, _ in outcomes) == ["no-op"] * (workers - 1) + ["recorded"]
    assert count(ledger, "Acked") == 1
    # All but one saved on the version the winner had just moved past, re-ran, found it acked.
    assert sorted(lost for _, _, lost in outcomes) == [0] + [1] * (workers - 1)


def test_processes_racing_to_complete_one_wins(
    ledger: Ledger, store_url: str, workers: int
) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.ack(handoff.id, by="code_agent")
    outcomes = run_race(store_url, "complete", str(handoff.id), workers)
    winners = [detail for status, detail, _ in outcomes if status == "ok"]
    refusals = [(detail, lost) for status, detail, lost in outcomes if status == "refused"]
    assert len(winners) == 1
    assert len(refusals) == workers - 1
    # Each loser collided once, was re-run against the winner's state, and says so.
    for message, lost in refusals:
        assert message.startswith("lost a race to another command: "), message
        assert "it is completed" in message
        assert lost == 1
    assert count(ledger, "Completed") == 1
    assert ledger.get(handoff.id).result == {"worker": winners[0]}


def test_processes_adding_notes_all_get_through(
    ledger: Ledger, store_url: str, workers: int
) -> None:
    handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    outcomes = run_race(store_url, "note", str(handoff.id), workers)
    assert [status for status, _, _ in outcomes] == ["ok"] * workers
    assert count(ledger, "NoteAdded") == workers
    # Notes collide like any command on one handoff; each loser re-ran and got through.
    assert sum(lost > 0 for _, _, lost in outcomes) == workers - 1


def test_processes_sending_one_key_create_one_handoff(
    ledger: Ledger, store_url: str, workers: int
) -> None:
    outcomes = run_race(store_url, "send", "msg_123", workers)
    ids = {detail[0] for _, detail, _ in outcomes}
    duplicates = sorted(detail[1] for _, detail, _ in outcomes)
    assert len(ids) == 1
    assert duplicates == [False] + [True] * (workers - 1)
    assert count(ledger, "Created") == 1
