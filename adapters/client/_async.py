"""``AsyncClient``: the HTTP API from asyncio (``await`` every call; ``httpx.AsyncClient``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from types import TracebackType

import httpx

from handoff_ledger.client._calls import Call, Document, Moment, base_headers, document
from handoff_ledger.client._operations import Operations, next_page

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
