"""Shared rounds: a thread that asks during a round waits for the next one."""

from __future__ import annotations

import threading

import pytest

from handoff_ledger.adapters.faces.runtime.fresh_rounds import FreshRounds


def test_a_lone_caller_runs_one_round_in_its_own_thread() -> None:
    ran: list[str] = []
    rounds = FreshRounds(lambda: ran.append(threading.current_thread().name))
    rounds.wait()
    rounds.wait()
    assert ran == [threading.current_thread().name] * 2


def test_a_caller_arriving_during_a_round_gets_the_next_one_shared_by_all_who_came() -> None:
    began, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def work() -> None:
        ran.append(len(ran) + 1)
        if len(ran) == 1:
            began.set()
            release.wait(timeout=30)

    rounds = FreshRounds(work)
    first = threading.Thread(target=rounds.wait)
    first.start()
    assert began.wait(timeout=30)
    late = [threading.Thread(target=rounds.wait) for _ in range(5)]
    for thread in late:
        thread.start()
    with rounds._cond:  # all five are waiting on round 1, begun before they came
        assert rounds._cond.wait_for(lambda: len(rounds._cond._waiters) == 5, timeout=30)  # type: ignore[attr-defined]
    assert ran == [1]
    release.set()
    for thread in [first, *late]:
        thread.join(timeout=30)
    assert ran == [1, 2]  # one more round served the five


def test_a_failed_round_raises_in_its_thread_and_the_next_caller_runs_again() -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("store down")

    rounds = FreshRounds(work)
    with pytest.raises(RuntimeError, match="store down"):
        rounds.wait()
    rounds.wait()
    assert len(calls) == 2


def test_a_caller_whose_need_is_met_runs_no_round_of_its_own() -> None:
    ran: list[int] = []
    rounds = FreshRounds(lambda: ran.append(1))
    rounds.wait(done=lambda: True)
    assert ran == []
    rounds.wait(done=lambda: False)  # not met: a round, as without ``done``
    assert ran == [1]


def test_a_caller_arriving_during_a_round_that_meets_its_need_waits_for_no_other() -> None:
    began = [threading.Event(), threading.Event()]
    release = [threading.Event(), threading.Event()]
    reached = [0]
    ran: list[int] = []

    def work() -> None:
        ran.append(len(ran) + 1)
        began[len(ran) - 1].set()
        release[len(ran) - 1].wait(timeout=30)
        reached[0] = 10 * len(ran)  # round 1 gets the view to position 10, round 2 to 20

    rounds = FreshRounds(work)
    first = threading.Thread(target=rounds.wait)
    first.start()
    assert began[0].wait(timeout=30)
    met = threading.Thread(target=rounds.wait, kwargs={"done": lambda: reached[0] >= 7})
    unmet = threading.Thread(target=rounds.wait, kwargs={"done": lambda: reached[0] >= 11})
    met.start()
    unmet.start()
    with rounds._cond:
        assert rounds._cond.wait_for(lambda: len(rounds._cond._waiters) == 2, timeout=30)  # type: ignore[attr-defined]
    release[0].set()
    assert began[1].wait(timeout=30)  # the unmet caller runs round 2 ...
    met.join(timeout=30)
    assert not met.is_alive()  # ... and the met one is back already, round 2 still under way
    assert unmet.is_alive()
    release[1].set()
    for thread in (first, unmet):
        thread.join(timeout=30)
    assert ran == [1, 2]
