"""Many writers on one PostgreSQL store (issue 24): no reader ever skips an event.

Sixteen writer processes send handoffs at once with no table lock; a fifth of
their transactions are held open, after their events were inserted and numbered,
for a random time up to a second. Some writers are SIGKILLed while they hold one.
Followers read as they go, each the way a reader of the product does:

- ``Ledger.read_log`` from a cursor (``log``, ``GET /log``, MCP, exports, reactor);
- the views' own batch read (``ViewStore.read_log``, what every view applies);
- the server-sent events' ``LogTail`` (the log's head, then a page).

At the end, every follower's sequence of positions equals the final full read of
the log, in order, with nothing missing or repeated, and every handoff a writer saw
committed is in it. A late commit with a lower position, which a reader without the
horizon passes over, shows up as a follower missing it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger

WRITERS = 16
WRITE_SECONDS = 5.0
HOLD_SHARE = 0.2
VICTIMS = 4
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _writer(url: str, index: int, folder: str, seed: int) -> None:
    ledger = open_ledger(url)
    rng = random.Random(seed)
    report = os.open(Path(folder) / f"writer-{index}", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    recorder: Any = ledger.recorder
    numbered = recorder._fetch_ids_after_insert_events

    last: list[int] = []

    def held_open(curs: Any, stored: Any, **kwargs: Any) -> Any:
        positions = numbered(curs, stored, **kwargs)
        last[:] = positions
        if rng.random() < HOLD_SHARE:  # inserted and numbered, not committed yet
            os.write(report, b"hold\n")
            time.sleep(rng.uniform(0.0, 1.0))
        return positions

    recorder._fetch_ids_after_insert_events = held_open
    end = time.monotonic() + WRITE_SECONDS
    n = 0
    while time.monotonic() < end:
        handoff = ledger.send(sender=f"writer_{index}", to="reader", payload={"n": n}).handoff
        # save returned: committed (the id, its position, when)
        os.write(report, f"committed {handoff.id} {last[0]} {time.time()}\n".encode())
        n += 1
    ledger.close()


def _follower(url: str, how: str, folder: str, stop: Any) -> None:
    ledger = open_ledger(url, create=False)
    seen: list[int] = []
    read = _reader(ledger, how)
    while not stop.is_set():
        seen.extend(read())
        time.sleep(0.002)
    # The writers are gone: read until the log's end (every transaction has ended).
    assert ledger.recorder.wait_for_committed(10)  # type: ignore[attr-defined]
    while page := read():
        seen.extend(page)
    Path(folder, f"follower-{how}.json").write_text(json.dumps(seen))
    ledger.close()


def _reader(ledger: Ledger, how: str) -> Any:
    cursor = [0]
    if how == "read_log":

        def read() -> list[int]:
            page = [e.position for e in ledger.read_log(after=cursor[0], limit=50)]
            cursor[0] = page[-1] if page else cursor[0]
            return page

        return read
    if how == "views":
        from handoff_ledger.adapters.views import Views
        from handoff_ledger.adapters.views.runner import VIEW_TOPICS

        store = Views(ledger).store

        def read_views() -> list[int]:
            with store.transaction(commit=False) as transaction:
                rows = store.read_log(transaction, cursor[0], 50, VIEW_TOPICS)
            cursor[0] = rows[-1][0] if rows else cursor[0]
            return [int(row[0]) for row in rows]

        return read_views
    from handoff_ledger.adapters.faces.runtime.sse import LogTail

    tail = LogTail(ledger, 0)

    def read_tail() -> list[int]:
        return [e.position for e in tail.read() or []]

    return read_tail


def test_sixteen_writers_holding_transactions_open_and_killed_no_follower_skips(
    pg_url: str, tmp_path: Path
) -> None:
    open_ledger(pg_url).close()  # the store, prepared once before the race
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    hows = ("read_log", "views", "tail")
    followers = [
        context.Process(target=_follower, args=(pg_url, how, str(tmp_path), stop)) for how in hows
    ]
    writers = [
        context.Process(target=_writer, args=(pg_url, i, str(tmp_path), 1000 + i))
        for i in range(WRITERS)
    ]
    for process in (*followers, *writers):
        process.start()
    victims = list(range(VICTIMS))
    killed: list[int] = []
    deadline = time.monotonic() + 60
    while victims and time.monotonic() < deadline:  # SIGKILL each victim while it holds one
        for index in list(victims):
            report = tmp_path / f"writer-{index}"
            lines = report.read_text().splitlines() if report.exists() else []
            if lines and lines[-1] == "hold" and sum(1 for x in lines if x != "hold") >= 3:
                os.kill(writers[index].pid or 0, signal.SIGKILL)
                victims.remove(index)
                killed.append(index)
        time.sleep(0.01)
    for process in writers:
        process.join(timeout=60)
    stop.set()
    for process in followers:
        process.join(timeout=60)
        assert process.exitcode == 0, "a follower failed"
    assert sorted(killed) == list(range(VICTIMS)), "every victim was killed mid-transaction"
    assert [w.exitcode for w in writers[VICTIMS:]] == [0] * (WRITERS - VICTIMS)

    ledger = open_ledger(pg_url, create=False)
    full = list(ledger.read_log())
    positions = [e.position for e in full]
    assert positions == sorted(set(positions)), "the log reads in position order, once each"
    committed = set()
    commit_times: dict[int, float] = {}
    holds = 0
    for index in range(WRITERS):
        for line in (tmp_path / f"writer-{index}").read_text().splitlines():
            if line.startswith("committed "):
                _, handoff_id, position, at = line.split()
                committed.add(handoff_id)
                commit_times[int(position)] = float(at)
            else:
                holds += 1
    assert holds >= 20, "transactions were held open"
    assert committed <= {str(e.event.originator_id) for e in full}, "a committed event was lost"
    for how in hows:
        seen = json.loads((tmp_path / f"follower-{how}.json").read_text())
        assert seen == positions, f"{how}: its sequence differs from the full read"
    # Late commits happened: an event committed after another one with a higher
    # position (what a reader without the horizon would have passed over).
    late, latest = 0, 0.0
    for position in sorted(commit_times):
        if commit_times[position] < latest:
            late += 1
        latest = max(latest, commit_times[position])
    assert late > 0, "no commit ever landed below a higher position: the race was not run"
    ledger.close()
