"""``AsyncClient``: the HTTP API from asyncio (``await`` every call; ``httpx.AsyncClient``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType

import httpx

from handoff_ledger.client._calls import (
    Call,
    Document,
    Duration,
    Moment,
    base_headers,
    document,
    taken,
    waiting_timeout,
)
from handoff_ledger.client._operations import Operations, next_page
from handoff_ledger.client._work import DEFAULT_NEXT_UPDATE, DEFAULT_WORKER, next_call
from handoff_ledger.client._work_async import AsyncHandler, run_work

__all__ = ["AsyncClient"]


class AsyncClient(Operations[Awaitable[Document]]):
    """The asyncio twin of :class:`~handoff_ledger.client.Client`: same methods, awaited.

    >>> async with AsyncClient("http://127.0.0.1:8000", token="hl_...") as ledger:
    ...     await ledger.ack(handoff_id, eta="2h", next_update="30m")

    Use it with ``async with``, or ``await`` :meth:`aclose`, to free its connections.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        agent: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=base_headers(token, agent),
            timeout=timeout,
            transport=transport,
        )

    def _call(self, call: Call) -> Awaitable[Document]:
        return self._send(call)

    async def _send(self, call: Call) -> Document:
        response = await self._http.request(
            call.method, call.path, json=call.body, params=call.params, headers=call.headers
        )
        return document(response)

    async def iter_log(
        self,
        *,
        since: int | Moment | None = None,
        until: Moment | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[Document]:
        """Every log entry from ``since`` on (to ``until``), oldest first, page by page."""
        cursor: int | Moment | None = since
        while True:
            page = await self.log(since=cursor, until=until, limit=page_size)
            for entry in page.get("entries") or []:
                yield entry
            found = next_page(page, page_size)
            if found is None:
                return
            cursor = found

    async def next(
        self,
        agent: str,
        *,
        wait: Duration | None = None,
        worker: str = DEFAULT_WORKER,
        eta: Duration | None = None,
        next_update: Duration | None = None,
    ) -> Document | None:
        """Take ``agent``'s next handoff (see :meth:`Client.next`); None when nothing came."""
        call = next_call(agent, wait=wait, worker=worker, eta=eta, next_update=next_update)
        response = await self._http.request(
            call.method,
            call.path,
            params=call.params,
            timeout=waiting_timeout(self._http.timeout) if wait else httpx.USE_CLIENT_DEFAULT,
        )
        return taken(response)

    async def work(
        self,
        handler: AsyncHandler,
        *,
        agent: str,
        worker: str = DEFAULT_WORKER,
        eta: Duration | None = None,
        next_update: Duration | None = DEFAULT_NEXT_UPDATE,
        concurrency: int = 1,
        until_idle: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> Counter[str]:
        """The work loop of :meth:`Client.work` on asyncio: a task per slot.

        ``handler`` may be ``async def`` (awaited on the loop) or a plain function (run
        in a thread, so it cannot block the loop). Cancelling ``work`` (Ctrl-C under
        ``asyncio.run``) cancels running handlers; their handoffs stay with their
        workers and are resumed at the next start.
        """
        return await run_work(
            self,
            handler,
            agent=agent,
            worker=worker,
            eta=eta,
            next_update=next_update,
            concurrency=concurrency,
            until_idle=until_idle,
            stop=stop,
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
