"""``AsyncClient.work``: the work loop on asyncio, a task per slot.

The same loop as ``_work_sync`` (take, run while a keeper task reports status, record
the ending). A handler may be a coroutine function (awaited on the loop) or a plain
function (run in a thread by ``asyncio.to_thread``, so it never blocks the loop).
Cancelling ``work`` (Ctrl-C under ``asyncio.run``) cancels running handlers: what they
held is resumed by the same worker ids at the next start.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

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
    from handoff_ledger.client._async import AsyncClient

__all__ = ["AsyncHandler", "run_work"]

log = logging.getLogger("handoff_ledger.client")

Result = dict[str, Any] | None
AsyncHandler = Callable[[Job], Awaitable[Result]] | Callable[[Job], Result]


async def run_work(
    client: AsyncClient,
    handler: AsyncHandler,
    *,
    agent: str,
    worker: str,
    eta: Duration | None,
    next_update: Duration | None,
    concurrency: int,
    until_idle: float | None,
    stop: asyncio.Event | None,
) -> Counter[str]:
    """Work ``agent``'s handoffs with ``handler`` until stopped; the outcomes, counted."""
    halt = stop if stop is not None else asyncio.Event()
    counts: Counter[str] = Counter()

    async def slot(name: str) -> None:
        idle_since = time.monotonic()
        while not halt.is_set():
            wait = LONG_POLL
            if until_idle is not None:
                wait = max(0.0, min(wait, until_idle - (time.monotonic() - idle_since)))
            try:
                handoff = await client.next(
                    agent, wait=f"PT{wait:.3f}S", worker=name, eta=eta, next_update=next_update
                )
            except httpx.TransportError as error:
                log.warning("work: cannot reach the ledger (%s); trying again", error)
                with suppress(TimeoutError):
                    await asyncio.wait_for(halt.wait(), 1.0)
                continue
            if handoff is None:
                if until_idle is not None and time.monotonic() - idle_since >= until_idle:
                    return
                continue
            counts[await _run(client, handler, Job(handoff, name), agent)] += 1
            idle_since = time.monotonic()

    async with asyncio.TaskGroup() as group:
        for name in slot_workers(worker, concurrency):
            group.create_task(slot(name))
    return counts


async def _run(client: AsyncClient, handler: AsyncHandler, job: Job, agent: str) -> str:
    """Run the handler on one job, keeping its promise; record how it ended."""
    loop = asyncio.get_running_loop()
    poke = asyncio.Event()
    job.on_progress(lambda: _poke(loop, poke))
    keeper = asyncio.create_task(_keep_promise(client, job, poke))
    returned: object = None
    error: BaseException | None = None
    try:
        if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an object with async __call__
        ):
            returned = await cast(Callable[[Job], Awaitable[Result]], handler)(job)
        else:
            returned = await asyncio.to_thread(cast(Callable[[Job], Result], handler), job)
    except Exception as raised:  # noqa: BLE001 - every ending is recorded; tracebacks stay here
        error = raised
    finally:
        keeper.cancel()
        with suppress(asyncio.CancelledError):
            await keeper
    end = ending(job, returned, error)
    if end.outcome == "stuck":
        log.warning("work: %s on handoff %s: %s", agent, job.id, end.detail, exc_info=error)
    try:
        await end.record(client)
    except WITHDRAWN:
        return "withdrawn"
    except HandoffLedgerError as refusal:  # a result its kind refuses, say: a person must look
        with suppress(HandoffLedgerError, httpx.TransportError):
            await stuck(job.id, f"the outcome was refused: {refusal.message}").record(client)
        return "stuck"
    except httpx.TransportError as lost:  # held by this worker: it resumes on the next take
        log.warning("work: could not record %s of %s (%s)", end.outcome, job.id, lost)
        return "unrecorded"
    return end.outcome


def _poke(loop: asyncio.AbstractEventLoop, poke: asyncio.Event) -> None:
    """Wake the keeper from any thread (a plain handler runs in one)."""
    loop.call_soon_threadsafe(poke.set)


async def _keep_promise(client: AsyncClient, job: Job, poke: asyncio.Event) -> None:
    """Report status before each update falls due (and the handler's progress), until
    cancelled when the handler ends."""
    every = report_every(job.handoff)
    due = time.monotonic() + every if every else None
    if job.handoff.get("taken") == "resumed":
        due = time.monotonic()  # its promise may be nearly spent: renew it at once
    last = 0.0
    while True:
        now = time.monotonic()
        timeout = None if due is None else max(0.0, due - now)
        if job.has_news():
            gap = max(0.0, last + MIN_REPORT_GAP - now)
            timeout = gap if timeout is None else min(timeout, gap)
        with suppress(TimeoutError):
            await asyncio.wait_for(poke.wait(), timeout)
        poke.clear()
        now = time.monotonic()
        news = job.has_news() and now - last >= MIN_REPORT_GAP
        if not news and (due is None or now < due):
            continue
        status, message, next_update = status_call_args(job)
        try:
            await client.status(job.id, status, message=message, next_update=next_update)
        except WITHDRAWN:
            job.withdrawn = True
            return
        except (HandoffLedgerError, httpx.TransportError) as error:
            log.warning("work: status report on %s failed (%s); trying again", job.id, error)
            due = time.monotonic() + 1.0
            continue
        last = time.monotonic()
        due = last + every if every else None
