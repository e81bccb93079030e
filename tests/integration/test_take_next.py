"""Taking work (``handoff next``): own unfinished work first, then the queue's head, then
another worker's work whose update promise is overdue — on both stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.work import DEFAULT_NEXT_UPDATE, take_next, wait_for_next
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidInput, InvalidTransition
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status

TEN = timedelta(minutes=10)


def send(ledger: Ledger, trigger: str, priority: Priority = Priority.MEDIUM) -> str:
    """Sent a second after the one before (the queue's order is by creation time)."""
    clock = ledger.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(seconds=1))
    sent = ledger.send(sender="inbox_monitor", to="code_agent", trigger=trigger, priority=priority)
    return str(sent.handoff.id)


def fresh(views: Views) -> Callable[[], Views]:
    """The views, caught up each time they are asked for (as a command does)."""

    def caught_up() -> Views:
        views.catch_up()
        return views

    return caught_up


def take(ledger: Ledger, views: Views, worker: str) -> tuple[str, str] | None:
    taken = take_next(ledger, fresh(views), agent="code_agent", worker=worker, next_update=TEN)
    return None if taken is None else (taken.handoff.trigger or "", taken.how)


def test_workers_take_the_head_resume_their_own_and_never_share(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    send(ledger, "a")
    send(ledger, "urgent", Priority.CRITICAL)
    send(ledger, "b")
    assert take(ledger, views, "w1") == ("urgent", "taken")  # the head, by priority
    assert take(ledger, views, "w2") == ("a", "taken")
    assert take(ledger, views, "w1") == ("urgent", "resumed")  # its own, unfinished
    acks = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.Acked)]
    assert sorted(getattr(e, "worker", None) for e in acks) == ["w1", "w2"]
    assert all(e.update_every == TEN.total_seconds() for e in acks)


def test_a_finished_handoff_is_never_taken_again(ledger: Ledger, clock: SimulatedClock) -> None:
    views = Views(ledger)
    first = send(ledger, "a")
    send(ledger, "b")
    assert take(ledger, views, "w1") == ("a", "taken")
    ledger.complete(UUID(first), by="code_agent")
    assert take(ledger, views, "w1") == ("b", "taken")
    assert take(ledger, views, "w1") == ("b", "resumed")


def test_overdue_work_is_taken_over_and_the_take_over_is_logged(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    send(ledger, "a")
    assert take(ledger, views, "w1") == ("a", "taken")
    assert take(ledger, views, "w2") is None  # w1's promise still holds
    clock.advance(TEN + timedelta(seconds=1))
    assert take(ledger, views, "w2") == ("a", "taken_over")
    assert take(ledger, views, "w1") is None  # not w1's any more, and w2's promise holds
    over = [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.TakenOver)]
    assert [(e.from_worker, e.worker, e.by) for e in over] == [("w1", "w2", "code_agent")]
    views.catch_up()
    (timer,) = [t for t in views.read.overdue(10**18) if t["reason"] == "update_overdue"]
    assert timer["due_us"] > 0  # re-armed from the take-over
    assert take(ledger, views, "w2") == ("a", "resumed")


def test_a_handoff_acked_by_hand_without_a_promise_gets_the_default_promise(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    send(ledger, "a")
    taken = take_next(ledger, fresh(views), agent="code_agent", worker="w1")
    assert taken is not None
    assert taken.handoff.update_every == DEFAULT_NEXT_UPDATE.total_seconds()


def test_take_over_is_refused_while_the_promise_holds(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    hid = UUID(send(ledger, "a"))
    ledger.ack(hid, by="code_agent", next_update=TEN, worker="w1")
    with pytest.raises(InvalidTransition):
        ledger.take_over(hid, by="code_agent", worker="w2")
    with pytest.raises(InvalidInput):
        ledger.ack(hid, by="code_agent", worker="not a worker id")


def test_waiting_returns_nothing_after_the_wait_and_work_as_soon_as_it_is_sent(
    ledger: Ledger, store_url: str, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    started = time.monotonic()
    assert (
        wait_for_next(ledger, fresh(views), agent="code_agent", wait=timedelta(seconds=0.5)) is None
    )
    assert 0.45 <= time.monotonic() - started < 5  # it waited, then said "nothing"
    other = open_ledger(store_url, clock=clock)

    def later() -> None:
        time.sleep(0.3)
        other.send(sender="inbox_monitor", to="code_agent", trigger="arrives")

    thread = threading.Thread(target=later)
    thread.start()
    try:
        taken = wait_for_next(ledger, fresh(views), agent="code_agent", wait=timedelta(seconds=20))
    finally:
        thread.join()
        other.close()
    assert taken is not None
    assert (taken.handoff.trigger, taken.how) == ("arrives", "taken")


def test_work_reported_stuck_is_not_taken_over_but_waits_for_a_reply(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    hid = UUID(send(ledger, "a"))
    assert take(ledger, views, "w1") == ("a", "taken")
    ledger.report_status(hid, by="code_agent", status=Status.STUCK, message="crashed")
    clock.advance(TEN + timedelta(seconds=1))  # its update promise lapsed while stuck
    assert take(ledger, views, "w2") is None  # not run again by another worker
    assert take(ledger, views, "w1") is None  # nor by its own
    ledger.reply(hid, by="inbox_monitor", message="retry with the new key")
    assert take(ledger, views, "w1") == ("a", "resumed")  # the reply puts it back


def counting_acks(ledger: Ledger) -> list[str]:
    """Every ack ``ledger`` is asked for from now on, by handoff id (counted, then done)."""
    asked: list[str] = []
    ack = ledger.ack

    def counted(handoff_id: UUID, **kwargs: object) -> object:
        asked.append(str(handoff_id))
        return ack(handoff_id, **kwargs)  # type: ignore[arg-type]

    ledger.ack = counted  # type: ignore[method-assign]
    return asked


def test_takes_at_once_spread_over_the_head_instead_of_racing_for_it(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    sent = [send(ledger, f"h{i}") for i in range(10)]
    views.catch_up()
    asked = counting_acks(ledger)
    together = threading.Barrier(8)

    def stale() -> Views:  # every take in flight before any reads: the views as they were
        together.wait(timeout=30)
        return views

    got: list[str] = []

    def worker(name: str) -> None:
        taken = take_next(ledger, stale, agent="code_agent", worker=name, next_update=TEN)
        assert taken is not None
        got.append(str(taken.handoff.id))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Eight takes, eight handoffs of the head, each asked for once: none lost a race.
    assert sorted(got) == sorted(sent[:8])
    assert sorted(asked) == sorted(sent[:8])


def test_a_take_does_not_try_again_what_this_process_just_saw_taken(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    views = Views(ledger)
    first, second = send(ledger, "a"), send(ledger, "b")
    views.catch_up()
    asked = counting_acks(ledger)
    as_they_were = lambda: views  # noqa: E731 - the views not caught up with the takes
    one = take_next(ledger, as_they_were, agent="code_agent", worker="w1", next_update=TEN)
    two = take_next(ledger, as_they_were, agent="code_agent", worker="w2", next_update=TEN)
    assert one is not None
    assert two is not None
    assert (str(one.handoff.id), str(two.handoff.id)) == (first, second)
    assert asked == [first, second]  # "a" was not asked for again by the second take
