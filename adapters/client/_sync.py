"""``Client``: the HTTP API from a thread (blocking calls on an ``httpx.Client``)."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

import httpx

from handoff_ledger.client._calls import Call, Document, Moment, base_headers, document
from handoff_ledger.client._operations import Operations, next_page

__all__ = ["Client"]


class Client(Operations[Document]):
    """A blocking client of ``handoff serve``, acting as the agent of ``token``.

    >>> ledger = Client("http://127.0.0.1:8000", token="hl_...")
    >>> ledger.ack(handoff_id, eta="2h", next_update="30m")["queue_position"]

    ``agent`` names the caller instead of a token on a ``serve --trial`` server.
    ``timeout`` is in seconds (or an ``httpx.Timeout``); ``transport`` is passed to
    httpx. Use it as a context manager, or call :meth:`close`, to free its connections.
    Every method returns the server's JSON document and raises a
    :class:`~handoff_ledger.client.HandoffLedgerError` subclass on an error answer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        agent: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers=base_headers(token, agent),
            timeout=timeout,
            transport=transport,
        )

    def _call(self, call: Call) -> Document:
        response = self._http.request(
            call.method, call.path, json=call.body, params=call.params, headers=call.headers
        )
        return document(response)

    def iter_log(
        self,
        *,
        since: int | Moment | None = None,
        until: Moment | None = None,
        page_size: int = 500,
    ) -> Iterator[Document]:
        """Every log entry from ``since`` on (to ``until``), oldest first, page by page."""
        cursor: int | Moment | None = since
        while True:
            page = self.log(since=cursor, until=until, limit=page_size)
            yield from page.get("entries") or []
            found = next_page(page, page_size)
            if found is None:
                return
            cursor = found

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
