"""Views survive what production does to them: SIGKILL, dropped connections, bad code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from test_views import assert_views_match_fold

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status
from handoff_ledger.projections.base import Projection
from handoff_ledger.projections.queues import QueuesProjection, queue_for
from handoff_ledger.projections.registry import all_projections

HANDOFF = str(Path(sys.executable).parent / "handoff")
AGENTS = ["code_agent", "support_agent", "inbox_monitor"]
pytestmark = pytest.mark.slow


def fill_log(ledger: Ledger, clock: SimulatedClock, handoffs: int) -> None:
    """Many handoffs through their lifecycle, saved in large transactions (fast)."""
    pending: list[Handoff] = []
    priorities = list(Priority)
    for n in range(handoffs):
        clock.advance(timedelta(seconds=7))
        now = clock.now()
        receiver = AGENTS[n % 3]
        handoff = Handoff.request(
            now=now, sender="human:me", receiver=receiver, priority=priorities[n % 4],
            ack_within=timedelta(minutes=30), deadline_within=timedelta(hours=2),
            escalate_to=["human:me"],
        )  # fmt: skip
        if n % 2:
            handoff.ack(
                by=receiver, now=now + timedelta(seconds=1), next_update=timedelta(minutes=10)
            )
        if n % 3 == 0:
            handoff.report_status(
                by=receiver, now=now + timedelta(seconds=2), status=Status.WORKING
            )
        if n % 5 == 0:
            handoff.complete(by=receiver, now=now + timedelta(seconds=3), result={"n": n})
        pending.append(handoff)
        if len(pending) == 250:
            ledger.save(*pending)
            pending = []
    if pending:
        ledger.save(*pending)


def test_sigkilled_runner_restarts_to_identical_views(
    store_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(store_url, clock=clock)
    try:
        fill_log(ledger, clock, 1500)
        views = Views(ledger)
        names = [p.name for p in views.projections]
        head = ledger.recorder.max_notification_id() or 0
        env = {**os.environ, "HANDOFF_DB": store_url}
        interrupted = kill_catch_ups(
            views,
            head,
            lambda: subprocess.Popen(
                [HANDOFF, "projections", "run", "--batch-size", "150", "--interval", "0.05"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
        assert interrupted >= 1, "every runner finished before it could be killed"
        assert min(views.store.positions(names).values()) > 0, "the runner never got going"
        views.catch_up()
        assert_views_match_fold(ledger, views)
    finally:
        ledger.close()


@pytest.mark.postgres
def test_runner_survives_terminated_postgres_connections(
    pg_url: str, clock: SimulatedClock
) -> None:
    writer = open_ledger(pg_url, clock=clock)
    reader = open_ledger(pg_url)
    stop = threading.Event()
    views = Views(reader)
    follower = threading.Thread(
        target=views.run_forever, args=(stop,), kwargs={"poll_interval": 0.05}
    )
    follower.start()
    try:
        first = writer.send(sender="a", to="b").handoff
        wait_until(lambda: views.read.handoff(str(first.id)) is not None)
        dbname = writer.env.get("POSTGRES_DBNAME")
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 2  # the pools and the LISTEN connection
        second = writer.send(sender="a", to="b").handoff
        writer.ack(second.id, by="b")
        wait_until(
            lambda: (
                (row := views.read.handoff(str(second.id))) is not None and row["state"] == "acked"
            )
        )
        assert_views_match_fold(writer, views)
    finally:
        stop.set()
        follower.join(timeout=30)
        writer.close()
        reader.close()
    assert not follower.is_alive()


def wait_until(condition: object, timeout: float = 20.0) -> None:
    """Wait for the runner (a real background thread), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(condition) and condition():
                return
        except psycopg.Error:
            pass
        time.sleep(0.02)
    raise AssertionError("the view runner did not catch up in time")


class WrongQueues(QueuesProjection):
    """A deliberately wrong release: the queue order puts low priority first."""

    version = 1

    def process(self, event, position, tables):  # type: ignore[no-untyped-def]
        super().process(event, position, tables)
        if isinstance(event, Handoff.Created):
            row = tables["queue"].get((str(event.originator_id),))
            if row is not None:
                tables["queue"].put({**row, "neg_rank": -row["neg_rank"]})


class FixedQueues(QueuesProjection):
    """The fix, released as a new projection version."""

    version = 2


def with_queues(queues: Projection) -> list[Projection]:
    return [queues if p.name == "queues" else p for p in all_projections()]


def test_wrong_projection_fixed_and_rebuilt_while_inbox_answers(
    store_url: str, clock: SimulatedClock
) -> None:
    ledger = open_ledger(store_url, clock=clock)
    try:
        fill_log(ledger, clock, 900)
        wrong = Views(ledger, with_queues(WrongQueues()))
        wrong.catch_up()
        handoffs: dict[object, Handoff] = {}
        for entry in ledger.read_log():
            event = entry.event
            handoffs[event.originator_id] = event.mutate(handoffs.get(event.originator_id))
        expected = [str(h.id) for h in queue_for("code_agent", handoffs.values())]
        assert [r["handoff_id"] for r in wrong.read.inbox("code_agent")] != expected

        fixed = Views(ledger, with_queues(FixedQueues()))
        assert [s.stale for s in fixed.status() if s.name == "queues"] == [True]
        answers: list[int] = []
        failures: list[BaseException] = []
        done = threading.Event()

        def rebuild() -> None:
            try:
                fixed.rebuild("queues", batch_size=25)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
            finally:
                done.set()

        env = {**os.environ, "HANDOFF_DB": store_url}
        cli = subprocess.Popen(
            [HANDOFF, "inbox", "code_agent", "--json"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        builder = threading.Thread(target=rebuild)
        builder.start()
        while not done.is_set():
            answers.append(len(fixed.read.inbox("code_agent")))
        builder.join()
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        assert '"agent": "code_agent"' in out
        assert not failures, failures
        assert len(answers) >= 2, "the rebuild finished before inbox could be asked during it"
        assert all(count == len(expected) for count in answers)
        assert [r["handoff_id"] for r in fixed.read.inbox("code_agent")] == expected
        assert [s.stale for s in fixed.status() if s.name == "queues"] == [False]
        fixed.catch_up()
        assert_views_match_fold(ledger, fixed)
    finally:
        ledger.close()


def kill_catch_ups(
    views: Views, head: int, start: Callable[[], subprocess.Popen[bytes]], times: int = 4
) -> int:
    """SIGKILL a catch-up process ``start`` launches, at a different point each time
    (once its views moved, up to ``times`` times, until they reach ``head``); how many
    were killed before the views reached it."""
    names = [p.name for p in views.projections]
    interrupted = 0
    for _ in range(times):
        runner = start()
        begun = min(views.store.positions(names).values())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            position = min(views.store.positions(names).values())
            if position > begun or position >= head or runner.poll() is not None:
                break
            time.sleep(0.01)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        if min(views.store.positions(names).values()) >= head:
            break
        interrupted += 1
    return interrupted
