"""``Client.work``: a handler run on a thread per slot, its update promises kept.

Each slot is a thread with its own worker id that takes a handoff (``next``), runs the
handler on it while a keeper thread reports status before each update promise falls
due, then records how the handler ended (``_work.ending``). A stop (the ``stop``
event, ``until_idle``, Ctrl-C) lets running handlers finish and takes nothing new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import httpx

from handoff_ledger.client._calls import Duration
from handoff_ledger.client._errors import HandoffLedgerError
from handoff_ledger.client._work import (
    LONG_POLL,
    MIN_REPORT_GAP,
    WITHDRAWN,
    Job,
    ending,
    report_every,
    slot_workers,
    status_call_args,
    stuck,
)

if TYPE_CHECKING:
    from handoff_ledger.client._sync import Client

__all__ = ["Handler", "run_work"]

log = logging.getLogger("handoff_ledger.client")

Handler = Callable[[Job], "dict[str, Any] | None"]


def run_work(
    client: Client,
    handler: Handler,
    *,
    agent: str,
    worker: str,
    eta: Duration | None,
    next_update: Duration | None,
    concurrency: int,
    until_idle: float | None,
    stop: threading.Event | None,
) -> Counter[str]:
    """Work ``agent``'s handoffs with ``handler`` until stopped; the outcomes, counted."""
    halt = stop if stop is not None else threading.Event()
    counts: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def slot(name: str) -> None:
        try:
            for outcome in _slot(client, handler, agent, name, eta, next_update, until_idle, halt):
                with lock:
                    counts[outcome] += 1
        except BaseException as error:  # noqa: BLE001 - a refused take (a bad token): stop all
            errors.append(error)
            halt.set()

    threads = [
        threading.Thread(target=slot, args=(name,), name=f"handoff-work-{name}", daemon=True)
        for name in slot_workers(worker, concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)
    except KeyboardInterrupt:  # finish what runs, take nothing new; a second one quits
        halt.set()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return counts


def _slot(
    client: Client,
    handler: Handler,
    agent: str,
    worker: str,
    eta: Duration | None,
    next_update: Duration | None,
    until_idle: float | None,
    halt: threading.Event,
) -> Iterator[str]:
    idle_since = time.monotonic()
    while not halt.is_set():
        wait = LONG_POLL
        if until_idle is not None:
            wait = max(0.0, min(wait, until_idle - (time.monotonic() - idle_since)))
        try:
            handoff = client.next(
                agent, wait=f"PT{wait:.3f}S", worker=worker, eta=eta, next_update=next_update
            )
        except httpx.TransportError as error:
            log.warning("work: cannot reach the ledger (%s); trying again", error)
            halt.wait(1.0)
            continue
        if handoff is None:
            if until_idle is not None and time.monotonic() - idle_since >= until_idle:
                return
            continue
        yield _run(client, handler, Job(handoff, worker), agent)
        idle_since = time.monotonic()


def _run(client: Client, handler: Handler, job: Job, agent: str) -> str:
    """Run the handler on one job, keeping its promise; record how it ended."""
    finished = threading.Event()
    poke = threading.Event()
    job.on_progress(poke.set)
    keeper = threading.Thread(
        target=_keep_promise, args=(client, job, finished, poke), name=f"keeper-{job.id}"
    )
    keeper.start()
    returned: object = None
    error: BaseException | None = None
    try:
        returned = handler(job)
    except Exception as raised:  # noqa: BLE001 - every ending is recorded; tracebacks stay here
        error = raised
    finally:
        finished.set()
        poke.set()
        keeper.join()
    end = ending(job, returned, error)
    if end.outcome == "stuck":
        log.warning("work: %s on handoff %s: %s", agent, job.id, end.detail, exc_info=error)
    try:
        end.record(client)
    except WITHDRAWN:
        return "withdrawn"
    except HandoffLedgerError as refusal:  # a result its kind refuses, say: a person must look
        with suppress(HandoffLedgerError, httpx.TransportError):
            stuck(job.id, f"the outcome was refused: {refusal.message}").record(client)
        return "stuck"
    except httpx.TransportError as lost:  # held by this worker: it resumes on the next take
        log.warning("work: could not record %s of %s (%s)", end.outcome, job.id, lost)
        return "unrecorded"
    return end.outcome


def _keep_promise(
    client: Client, job: Job, finished: threading.Event, poke: threading.Event
) -> None:
    """Report status before each update falls due (and the handler's progress) until done."""
    every = report_every(job.handoff)
    due = time.monotonic() + every if every else None
    if job.handoff.get("taken") == "resumed":
        due = time.monotonic()  # its promise may be nearly spent: renew it at once
    last = 0.0
    while not finished.is_set():
        now = time.monotonic()
        timeout = None if due is None else max(0.0, due - now)
        if job.has_news():
            gap = max(0.0, last + MIN_REPORT_GAP - now)
            timeout = gap if timeout is None else min(timeout, gap)
        poke.wait(timeout)
        poke.clear()
        if finished.is_set():
            return
        now = time.monotonic()
        news = job.has_news() and now - last >= MIN_REPORT_GAP
        if not news and (due is None or now < due):
            continue
        status, message, next_update = status_call_args(job)
        try:
            client.status(job.id, status, message=message, next_update=next_update)
        except WITHDRAWN:
            job.withdrawn = True
            return
        except (HandoffLedgerError, httpx.TransportError) as error:
            log.warning("work: status report on %s failed (%s); trying again", job.id, error)
            due = time.monotonic() + 1.0
            continue
        last = time.monotonic()
        due = last + every if every else None
