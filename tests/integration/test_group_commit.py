"""Group commit (issue 25 item 1): saves of different handoffs that arrive together
share one transaction, each keeping its own optimistic check, on both stores.

Threads of one process stand for a server's request threads (``handoff serve`` runs
each request on a thread of one ledger); ``tests/e2e/test_group_commit_serve.py``
races real HTTP clients against a server and SIGKILLs it mid-stream.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.caches import ProtocolMoved
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.group_commit import Save
from handoff_ledger.domain.errors import Refused
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

THREADS = 16
SENDS = 15
RACERS = 50
RACED = 10


def _pooled(url: str) -> str:
    """Enough pooled connections for the threads (``serve`` uses 10)."""
    if url.startswith("sqlite"):
        return url
    return f"{url}&pool_size=10"


def _together(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released at once; their results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - each thread's outcome is checked
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_saves_arriving_together_share_transactions_and_every_one_is_recorded_once(
    store_url: str,
) -> None:
    ledger = open_ledger(_pooled(store_url))
    group = ledger.recorder.group_commit  # type: ignore[attr-defined]

    def sends(index: int) -> list[UUID]:
        return [
            ledger.send(sender=f"sender_{index}", to="receiver", payload={"n": n}).handoff.id
            for n in range(SENDS)
        ]

    try:
        outcomes = _together(THREADS, sends)
        sent = [handoff_id for ids in outcomes for handoff_id in ids]
        assert len(sent) == THREADS * SENDS
        logged = Counter(
            e.event.originator_id for e in ledger.read_log() if isinstance(e.event, Handoff.Created)
        )
        assert logged == Counter(sent)  # each answered send recorded, once
        assert group.saves == THREADS * SENDS
        assert group.transactions < group.saves, "no two saves ever shared a transaction"
    finally:
        ledger.close()


def test_fifty_racing_commands_one_winner_per_handoff_the_losers_refused(store_url: str) -> None:
    ledger = open_ledger(_pooled(store_url))
    group = ledger.recorder.group_commit  # type: ignore[attr-defined]
    ids = []
    for _ in range(RACED):
        handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
        ledger.ack(handoff.id, by="code_agent")
        ids.append(handoff.id)
    before = group.transactions, group.saves

    def complete(index: int) -> Handoff:
        return ledger.complete(ids[index % RACED], by="code_agent", result={"racer": index})

    try:
        outcomes = _together(RACERS, complete)
        winners = [o for o in outcomes if isinstance(o, Handoff)]
        losers = [o for o in outcomes if not isinstance(o, Handoff)]
        assert sorted(str(w.id) for w in winners) == sorted(str(i) for i in ids)
        assert len(losers) == RACERS - RACED
        assert all(isinstance(loser, Refused) for loser in losers), losers
        completed = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.Completed)]
        assert Counter(e.originator_id for e in completed) == Counter(ids)
        won = {w.id: w.result for w in winners}
        assert all(won[e.originator_id] == e.result for e in completed)
        # The race was real: losers met a winner's save (re-run, refused), and the
        # winners' saves went together.
        assert ledger.lost_races >= 1
        assert any("lost a race" in str(loser) for loser in losers)
        transactions, saves = group.transactions - before[0], group.saves - before[1]
        assert transactions < saves
    finally:
        ledger.close()


def _stored(ledger: Ledger, handoff: Handoff) -> list[StoredEvent]:
    """The events ``handoff`` holds unsaved, as the recorder receives them."""
    return [ledger.mapper.to_stored_event(e) for e in handoff.collect_events()]


def test_a_save_that_conflicts_is_left_out_alone_and_the_rest_of_its_batch_is_written(
    store_url: str,
) -> None:
    ledger = open_ledger(store_url)
    recorder: Any = ledger.recorder
    try:
        first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
        ledger.ack(first.id, by="code_agent")  # version 2 recorded
        stale = ledger.repository.get(first.id, version=1)
        stale.ack(by="code_agent", now=ledger.clock.now())  # another version 2
        fresh = [ledger.send(sender="inbox_monitor", to="code_agent").handoff for _ in range(2)]
        for handoff in fresh:
            handoff.ack(by="code_agent", now=ledger.clock.now())
        saves = [Save(_stored(ledger, fresh[0]), {}), Save(_stored(ledger, stale), {})]
        saves.append(Save(_stored(ledger, fresh[1]), {}))
        recorder._insert_many(saves)
        assert [s.written for s in saves] == [True, False, True]
        assert isinstance(saves[1].error, IntegrityError)
        assert all(s.positions for s in (saves[0], saves[2]))
        acked = Counter(
            e.event.originator_id for e in ledger.read_log() if isinstance(e.event, Handoff.Acked)
        )
        assert acked == Counter([first.id, fresh[0].id, fresh[1].id])
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_save_decided_under_an_outdated_protocol_is_left_out_alone(pg_url: str) -> None:
    ledger = open_ledger(pg_url)
    recorder: Any = ledger.recorder
    try:
        ledger.apply_protocol("[agents.a]\n[agents.b]\n", source="one.toml")
        ledger.apply_protocol("[agents.a]\n[agents.b]\n[agents.c]\n", source="two.toml")
        pending = [
            ledger.send(sender="a", to="b").handoff,
            ledger.send(sender="a", to="b").handoff,
        ]
        for handoff in pending:
            handoff.ack(by="b", now=ledger.clock.now())
        saves = [
            Save(_stored(ledger, pending[0]), {"protocol_head": 1}),  # decided under v1
            Save(_stored(ledger, pending[1]), {"protocol_head": 2}),
        ]
        recorder._insert_many(saves)
        assert isinstance(saves[0].error, ProtocolMoved)
        assert saves[1].written
        assert saves[0].written is False
        acked = [
            e.event.originator_id for e in ledger.read_log() if isinstance(e.event, Handoff.Acked)
        ]
        assert acked == [pending[1].id]
    finally:
        ledger.close()


def test_a_second_save_of_one_handoff_waits_for_the_next_transaction(store_url: str) -> None:
    """Two saves of one aggregate never share a transaction: the second is checked
    against the first (here it follows it, version 3 after 2, and both are written)."""
    ledger = open_ledger(store_url)
    group = ledger.recorder.group_commit  # type: ignore[attr-defined]
    try:
        handoff = ledger.send(sender="inbox_monitor", to="code_agent").handoff
        handoff.ack(by="code_agent", now=ledger.clock.now())
        acked = _stored(ledger, handoff)
        handoff.report_status(by="code_agent", now=ledger.clock.now(), status=Status.WORKING)
        reported = _stored(ledger, handoff)
        other = ledger.send(sender="inbox_monitor", to="code_agent").handoff
        other.ack(by="code_agent", now=ledger.clock.now())
        saves = [Save(acked, {}), Save(reported, {}), Save(_stored(ledger, other), {})]
        for save in saves:
            save.originators = frozenset(e.originator_id for e in save.events)
        group._waiting.extend(saves)
        first = group._take()
        assert first == [saves[0], saves[2]]
        assert group._take() == [saves[1]]
    finally:
        ledger.close()
