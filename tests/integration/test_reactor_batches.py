"""The reactor in batches: one query loads a batch, one transaction saves it, a
conflict falls back to one step at a time, and every due timer escalates once."""

from __future__ import annotations

import gc
import shutil
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from handoff_ledger.adapters.ledger.application import DueStep, Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services import reactor as reactor_module
from handoff_ledger.adapters.services.reactor import PassReport, Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.loading import load_handoffs
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

WAVE1 = Path(__file__).resolve().parent.parent / "data" / "wave1" / "store.db"


def escalations(ledger: Ledger) -> Counter[tuple[str, str, int]]:
    found: Counter[tuple[str, str, int]] = Counter()
    for entry in ledger.read_log():
        event = entry.event
        if isinstance(event, Handoff.Escalated):
            found[(str(event.originator_id), event.reason, event.level)] += 1
    return found


def send_silent(ledger: Ledger, count: int) -> list[str]:
    """``count`` handoffs whose ack timer falls due in an hour, nobody acking."""
    ids = []
    for n in range(count):
        sent = ledger.send(
            sender="inbox_monitor", to=f"agent_{n % 3}", ack_within=timedelta(hours=1),
            escalate_to=["human:me"],
        )  # fmt: skip
        ids.append(str(sent.handoff.id))
    return ids


def test_a_batch_loads_each_handoff_as_ledger_get_does(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    ids = send_silent(ledger, 3)
    busy = uuid.UUID(ids[0])
    ledger.ack(busy, by="agent_0", next_update=timedelta(minutes=10))
    ledger.report_status(busy, by="agent_0", status=Status.STUCK, message="waiting")
    ledger.add_note(uuid.UUID(ids[1]), by="human:me", message="look")
    ledger.watch(busy, by="human:me")  # a chain watch: another aggregate in the table
    clock.advance(timedelta(hours=2))
    Reactor(ledger).run_once()  # escalations, sealed by the hash chain
    missing = uuid.uuid4()
    decoder = EventDecoder(ledger.mapper)
    for decode in (None, decoder.decode):  # the mapper, and the views' decoder (the reactor's)
        loaded = load_handoffs(ledger, [missing, *map(uuid.UUID, reversed(ids))], decode)
        assert sorted(map(str, loaded)) == sorted(ids)  # the unknown id is left out
        for handoff_id, handoff in loaded.items():
            assert handoff == ledger.get(handoff_id)  # every attribute, the last hash included
        assert loaded[busy].version == len(ledger.history(busy)) > 3
    assert decoder.fallbacks == 0


def test_a_store_written_by_wave1_code_loads_in_batches_as_one_by_one(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    shutil.copy(WAVE1, store)
    ledger = open_ledger(f"sqlite:///{store}")
    try:
        ids = list(dict.fromkeys(entry.event.originator_id for entry in ledger.read_log()))
        assert len(ids) > 5
        loaded = load_handoffs(ledger, ids)
        assert [loaded[i] for i in ids] == [ledger.get(i) for i in ids]
        decoded = load_handoffs(ledger, ids, EventDecoder(ledger.mapper).decode)
        assert [decoded[i] for i in ids] == [loaded[i] for i in ids]
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_batch_loads_after_the_server_dropped_the_pooled_connections(
    pg_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(pg_url, clock=clock)
    try:
        ids = [uuid.UUID(hid) for hid in send_silent(ledger, 3)]
        assert len(load_handoffs(ledger, ids)) == 3  # the pool holds a connection now
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (ledger.env.get("POSTGRES_DBNAME"),),
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        loaded = load_handoffs(ledger, ids)
        assert [loaded[i] for i in ids] == [ledger.get(i) for i in ids]
        decoded = load_handoffs(ledger, ids, EventDecoder(ledger.mapper).decode)
        assert [decoded[i] for i in ids] == [loaded[i] for i in ids]
    finally:
        ledger.close()


class LoadsThenLetsARivalWin(Reactor):
    """A reactor that, once it has loaded a batch, lets another reactor take a pass
    before it decides and saves its steps: the race two reactors run on one batch,
    played in one order."""

    def __init__(self, ledger: Ledger, rival: Reactor) -> None:
        super().__init__(ledger)
        self.rival = rival
        self.batches: list[int] = []
        self.rival_escalated: list[tuple[str, str]] = []

    def _load(self, steps: list[DueStep]) -> dict[uuid.UUID, Handoff]:
        loaded = super()._load(steps)
        self.batches.append(len(steps))
        if len(self.batches) == 1:
            self.rival_escalated = self.rival.run_once().escalated
        return loaded


def test_two_reactors_racing_on_one_batch_the_loser_falls_back_and_nothing_escalates_twice(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    ids = send_silent(ledger, 30)
    other = open_ledger(store_url, clock=clock)
    try:
        loser = LoadsThenLetsARivalWin(ledger, rival=Reactor(other))
        loser.run_once()
        clock.advance(timedelta(hours=1, seconds=1))
        report = loser.run_once()
        # The rival escalated the whole batch in its pass, in one transaction...
        assert sorted(hid for hid, _ in loser.rival_escalated) == sorted(ids)
        assert other.lost_races == 0
        # ...the loser had loaded the same batch in one go, before that: its save
        # conflicted once, and one step at a time it found every step taken.
        assert loser.batches == [30]
        assert ledger.lost_races == 1
        assert report.steps == []
        assert report.skipped == 30
        assert escalations(ledger) == Counter({(hid, "ack_timeout", 1): 1 for hid in ids})
        assert loser.run_once().steps == loser.rival.run_once().steps == []
    finally:
        other.close()


def send_steps_around(ledger: Ledger) -> tuple[Handoff, Handoff]:
    """One handoff's ack timer (1 h) and deadline (1 h 10) around another's ack timer
    (1 h 05)."""
    first = ledger.send(
        sender="inbox_monitor", to="agent_0", ack_within=timedelta(hours=1),
        deadline=timedelta(hours=1, minutes=10), escalate_to=["human:me"],
    ).handoff  # fmt: skip
    second = ledger.send(
        sender="inbox_monitor", to="agent_1", ack_within=timedelta(hours=1, minutes=5),
        escalate_to=["human:me"],
    ).handoff  # fmt: skip
    return first, second


def test_two_due_steps_of_one_handoff_are_recorded_in_due_order_without_a_conflict(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    # One handoff's ack timer (1 h) and deadline (1 h 10) fall due around another's
    # ack timer (1 h 05); a reactor back after two hours takes all three in due order.
    first, second = send_steps_around(ledger)
    reactor = Reactor(ledger)
    reactor.run_once()
    clock.advance(timedelta(hours=2))
    assert len(reactor.run_once().steps) == 3
    recorded = [
        (e.event.originator_id, e.event.reason)
        for e in ledger.read_log()
        if isinstance(e.event, Handoff.Escalated)
    ]
    assert recorded == [
        (first.id, "ack_timeout"), (second.id, "ack_timeout"), (first.id, "deadline_missed"),
    ]  # fmt: skip
    assert ledger.lost_races == 0  # each batch saved whole, no fallback


def test_a_round_reads_every_page_of_due_steps_then_catches_up_once(
    ledger: Ledger, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reactor_module, "BATCH", 7)  # 20 due: pages of 7, 7 and 6
    ids = send_silent(ledger, 20)
    reactor = Reactor(ledger)
    reactor.run_once()
    catch_ups = 0
    catch_up = reactor.views.runner.catch_up

    def counted() -> int:
        nonlocal catch_ups
        catch_ups += 1
        return catch_up()

    reactor.views.runner.catch_up = counted  # type: ignore[assignment, method-assign]
    clock.advance(timedelta(hours=1, seconds=1))
    report = reactor.run_once()
    assert sorted(hid for hid, _ in report.escalated) == sorted(ids)
    # At the pass's start and after the one round that fired (which projected the
    # escalations for their broadcasts: no follow-ups, no catch-up at the pass's end).
    assert catch_ups == 2
    assert escalations(ledger) == Counter({(hid, "ack_timeout", 1): 1 for hid in ids})
    assert reactor.run_once().steps == []


def test_no_cyclic_garbage_collection_runs_while_a_pass_fires_its_steps(
    ledger: Ledger, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deciding and saving thousands of steps allocates millions of short-lived objects
    with no cycles among them: the collector is paused while a pass fires them (and its
    views catch up), and resumed after."""
    monkeypatch.setattr(reactor_module, "BATCH", 10)  # 30 due: three batches, one round
    ids = send_silent(ledger, 30)
    reactor = Reactor(ledger)
    reactor.run_once()
    clock.advance(timedelta(hours=1, seconds=1))
    collections: list[int] = []
    fire = reactor.fire_due_timers

    def watched(report: PassReport) -> None:
        def counted(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                collections.append(info["generation"])

        gc.callbacks.append(counted)
        try:
            fire(report)
        finally:
            gc.callbacks.remove(counted)

    monkeypatch.setattr(reactor, "fire_due_timers", watched)
    report = reactor.run_once()
    assert sorted(hid for hid, _ in report.escalated) == sorted(ids)
    assert collections == []
    assert gc.isenabled()


class SavesAfterTheNextLoad(Reactor):
    """A reactor whose first batch is saved only once the loader thread has loaded the
    second: the pipeline's worst order, played every time."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.second_loaded = threading.Event()
        self.loads: list[tuple[str, list[uuid.UUID]]] = []

    def _load(self, steps: list[DueStep]) -> dict[uuid.UUID, Handoff]:
        loaded = super()._load(steps)
        self.loads.append((threading.current_thread().name, [s.handoff_id for s in steps]))
        if len(self.loads) == 2:
            self.second_loaded.set()
        return loaded

    def _fire_batch(
        self, steps: list[DueStep], report: PassReport, loaded: dict[uuid.UUID, Handoff]
    ) -> int:
        if len(self.loads) == 1:
            assert self.second_loaded.wait(timeout=60)
        return super()._fire_batch(steps, report, loaded)


def test_the_next_batch_loads_while_one_is_saved_and_a_handoff_in_both_is_loaded_again(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    # As above: one handoff's ack timer and deadline around another's ack timer. The
    # first batch (both ack timers) is saved after the second (the deadline) was
    # loaded, in the loader thread: that copy predates the first batch's escalation.
    first, second = send_steps_around(ledger)
    reactor = SavesAfterTheNextLoad(ledger)
    Reactor(ledger).run_once()
    clock.advance(timedelta(hours=2))
    assert len(reactor.run_once().steps) == 3
    assert [ids for _, ids in reactor.loads] == [[first.id, second.id], [first.id]]
    assert reactor.loads[1][0].startswith("reactor-load")  # loaded beside the save
    assert ledger.lost_races == 0  # reloaded after the first save: no conflict, no fallback
    assert escalations(ledger) == Counter(
        {
            (str(first.id), "ack_timeout", 1): 1,
            (str(second.id), "ack_timeout", 1): 1,
            (str(first.id), "deadline_missed", 1): 1,
        }
    )
    # The batches' handoffs were not kept in the cache: it holds them as sent.
    for sent in (first, second):
        cached = ledger.handoffs.checkout(sent.id)
        assert cached is not None
        assert cached.version == sent.version < ledger.get(sent.id).version
