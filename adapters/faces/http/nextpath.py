"""``GET /agents/{name}/next`` in one thread hop, beside the commands' fast path.

A worker's take is the other half of its traffic (a take, then a completion). Through
FastAPI it resolves the route's dependencies, validates its query, hops to anyio's
threads and re-encodes the document: about as much CPU again as the take itself.
This ASGI middleware answers ordinary takes itself: a path with no NUL, query
parameters among the route's own and each given once, a token. It calls the same
route function (the same order, waiting, ack and document, or 204) on a thread of a
pool of its own, so waiting takes (a long poll holds its thread) never queue behind
the commands' threads, nor commands behind them; when all of them wait, a take goes
the long way.

Anything else goes to FastAPI untouched, before anything is written: an unknown or
repeated parameter, a NUL, no or a bad token. Refusals by the rules (another agent's
queue, a bad duration) are answered as FastAPI answers them (``error_answer``),
nothing written (``tests/integration/test_http_fastpath.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Response

from handoff_ledger.adapters.faces.http.asgi import Receive, Scope, Send
from handoff_ledger.adapters.faces.http.work import take_next_handoff
from handoff_ledger.adapters.faces.runtime.errors import (
    Unauthorized,
    error_answer,
    unexpected_answer,
)
from handoff_ledger.adapters.faces.runtime.service import TRIAL_HEADER, Service
from handoff_ledger.domain.errors import HandoffError

__all__ = ["TAKING", "NextFastPath"]

log = logging.getLogger(__name__)

_PATH = re.compile(r"/agents/([^/]+)/next")
_PARAMETERS = frozenset({"wait", "worker", "eta", "next_update"})
_TRIAL = TRIAL_HEADER.lower().encode()
TAKING = 64
"""Takes answered (or waiting) at once at most; more go through FastAPI."""

Answer = tuple[int, bytes, dict[str, str] | None]


class NextFastPath:
    """ASGI middleware: ordinary ``GET /agents/{name}/next`` answered in one hop."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], service: Service):
        self.app = app
        self.service = service
        self.threads = ThreadPoolExecutor(TAKING, thread_name_prefix="next-fast-path")
        self.busy = 0
        """Takes under way (counted on the event loop's thread only)."""
        self.answered = 0
        """Takes this fast path answered itself (the tests check it took theirs)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = query = None
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("root_path")
            and self.busy < TAKING
        ):
            matched = _PATH.fullmatch(scope["path"])
        if matched is not None and "\x00" not in matched.group(1):
            query = _query(scope.get("query_string", b""))
        if matched is None or query is None:
            await self.app(scope, receive, send)
            return
        authorization = trial = ""
        for name, value in scope["headers"]:
            if name == b"authorization" and not authorization:
                authorization = value.decode("latin-1")
            elif name == _TRIAL and not trial:
                trial = value.decode("latin-1")
        self.busy += 1
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                self.threads, self._answer, matched.group(1), query, authorization, trial
            )
        finally:
            self.busy -= 1
        if answer is None:
            await self.app(scope, receive, send)
            return
        self.answered += 1
        status, content, extra = answer
        headers = [
            *(
                [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
                if status != 204
                else []
            ),
            *((k.lower().encode(), v.encode()) for k, v in (extra or {}).items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _answer(
        self, name: str, query: dict[str, str], authorization: str, trial: str
    ) -> Answer | None:
        """The take (in a worker thread, waiting as asked), or None for FastAPI."""
        try:
            me = self.service.caller_for(authorization, trial)
        except Unauthorized:
            return None  # FastAPI answers it (401), as it always did
        try:
            taken = take_next_handoff(name=name, svc=self.service, me=me, **query)
        except HandoffError as error:
            status, refusal, extra = error_answer(error)
            return status, _encode(refusal), extra
        except Exception as error:
            status, document = unexpected_answer(error)
            if status == 500:
                log.exception("unexpected error on GET /agents/%s/next", name)
            return status, _encode(document), None
        if isinstance(taken, Response):
            return 204, b"", None
        return 200, _encode(taken), None


def _query(raw: bytes) -> dict[str, str] | None:
    """The route's parameters, or None when FastAPI should see the query (an unknown
    or repeated one, a NUL, bytes that are not UTF-8)."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    query = dict(pairs)
    if len(query) != len(pairs) or not set(query) <= _PARAMETERS:
        return None
    if any("\x00" in value for value in query.values()):
        return None
    return query


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
