"""``Client``: the HTTP API from a thread (blocking calls on an ``httpx.Client``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
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
from handoff_ledger.client._work_sync import Handler, run_work

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

    def next(
        self,
        agent: str,
        *,
        wait: Duration | None = None,
        worker: str = DEFAULT_WORKER,
        eta: Duration | None = None,
        next_update: Duration | None = None,
    ) -> Document | None:
        """Take ``agent``'s next handoff and ack it for ``worker`` (``GET
        /agents/{agent}/next``), waiting up to ``wait`` (at most 60 s) for one.

        The answer is the handoff document plus ``taken`` (``resumed``, ``taken``,
        ``taken_over``) and ``worker``; None when there was nothing to take. ``agent``
        must be the token's own. ``worker`` is this worker's id, the same across its
        restarts: its own unfinished handoff comes back to it first.
        """
        call = next_call(agent, wait=wait, worker=worker, eta=eta, next_update=next_update)
        response = self._http.request(
            call.method,
            call.path,
            params=call.params,
            timeout=waiting_timeout(self._http.timeout) if wait else httpx.USE_CLIENT_DEFAULT,
        )
        return taken(response)

    def work(
        self,
        handler: Handler,
        *,
        agent: str,
        worker: str = DEFAULT_WORKER,
        eta: Duration | None = None,
        next_update: Duration | None = DEFAULT_NEXT_UPDATE,
        concurrency: int = 1,
        until_idle: float | None = None,
        stop: threading.Event | None = None,
    ) -> Counter[str]:
        """Work ``agent``'s handoffs with ``handler``, ``concurrency`` at a time, until
        ``stop`` is set, nothing came for ``until_idle`` seconds, or Ctrl-C.

        ``handler(job)`` gets a :class:`~handoff_ledger.client.Job` and returns the
        result (a dict, or None); it raises :class:`~handoff_ledger.client.Fail` or
        :class:`~handoff_ledger.client.Decline` for those outcomes, and anything else
        is reported ``stuck``. While it runs, a status is reported before each update
        promise falls due (``job.progress(message)`` sends news sooner). Handlers run on
        threads, one per slot, each with its own worker id (``worker``, or
        ``worker-1`` … ``worker-N``): keep ``worker`` and ``concurrency`` the same
        across restarts so each slot resumes its own work. Answers how many handoffs
        ended each way (``completed``, ``failed``, ``declined``, ``stuck``,
        ``withdrawn``, ``unrecorded``). See docs/integrate.md, "Taking work".
        """
        return run_work(
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
