"""Shared rounds: a thread that asks during a round waits for the next one."""

from __future__ import annotations

import threading

import pytest

from handoff_ledger.adapters.fresh_rounds import FreshRounds


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
