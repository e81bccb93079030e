"""A2A's fast path: an ordinary ``SendMessage`` answered without the SDK's dispatcher.

Most A2A traffic is ``SendMessage``. Through the SDK each one crosses FastAPI's
middleware and routing, the SDK's dispatcher (its JSON-RPC envelope model,
telemetry and version wrappers), a Starlette ``Request``, and two or three hops to
worker threads. This ASGI middleware answers ``POST /a2a/{agent}`` (JSON-RPC,
method ``SendMessage``) and ``POST /a2a/{agent}/message:send`` (HTTP+JSON) itself
when they are ordinary, in one hop to a thread of its own: the body parsed as the
SDK parses it (``ParseDict``/``Parse`` into the same ``SendMessageRequest``), the
message recorded by the same handler code (:meth:`LedgerRequestHandler.record_now`),
the task answered as the document the SDK prints (built as JSON by
``task_document``, not through protobuf: the same members and values), in the
SDK's JSON-RPC envelope, through Starlette's ``JSONResponse``. A blocking send waits on the
loop exactly as the SDK path does (woken by this process's saves), then takes one
more hop to build its answer.

Anything else goes to the SDK untouched (the body replayed), *before* anything is
written: another method, a batch, a missing or other ``A2A-Version`` than
``1.0``, no token (the SDK answers 401), a body that is not JSON or does not parse
as the SDK's request, a push-notification config. A send the ledger refuses (an
A2A error: bad input, an unknown token, a closed task) wrote nothing either, and is
handed to the SDK too, which answers it with its own error document. So the fast
path only ever answers what the SDK path would have answered with success, and
answers it with the same document (``tests/integration/test_a2a_fastpath.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from a2a.server.request_handlers.response_helpers import build_error_response
from a2a.types.a2a_pb2 import SendMessageRequest
from a2a.utils.constants import A2A_JSON_MEDIA_TYPE
from a2a.utils.error_handlers import build_rest_error_payload
from a2a.utils.errors import A2AError
from google.protobuf.json_format import Parse, ParseDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp as App
from starlette.types import Receive, Scope, Send

from handoff_ledger.adapters.faces.a2a.errors import a2a_error
from handoff_ledger.adapters.faces.a2a.handler import Events, LedgerRequestHandler
from handoff_ledger.adapters.faces.a2a.routes import CallContext
from handoff_ledger.adapters.faces.runtime.asgi_body import Message, read_body, replay
from handoff_ledger.adapters.faces.runtime.service import Service

__all__ = ["SendFastPath"]

log = logging.getLogger(__name__)


_PATH = re.compile(r"/a2a/([^/]+?)(/message:send)?")
_ENVELOPE = frozenset({"jsonrpc", "id", "method", "params"})
THREADS = 40
"""Sends recorded at once at most (as many as the HTTP fast path's)."""


@dataclass
class _Send:
    """One send taken by the fast path: its request, its caller's context, its binding."""

    params: SendMessageRequest
    request: Request
    rpc_id: str | int | None  # None: HTTP+JSON


class SendFastPath:
    """ASGI middleware: ordinary ``SendMessage`` requests answered in one hop."""

    def __init__(self, app: App, service: Service, handler: LedgerRequestHandler) -> None:
        self.app = app
        self.service = service
        self.handler = handler
        self.context = CallContext(service)
        self.threads = ThreadPoolExecutor(THREADS, thread_name_prefix="a2a-fast-path")
        self.answered = 0
        """Sends this fast path answered itself (the tests check it took theirs)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = None
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("query_string")
            and not scope.get("root_path")
        ):
            matched = _PATH.fullmatch(scope["path"])
        if matched is None or not self._plain(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = await read_body(receive, messages)
        if not body:
            await self.app(scope, replay(messages, receive), send)
            return
        agent, rest = matched.group(1), matched.group(2) is not None
        # The context's request reads the headers and the agent; ``receive`` is the
        # raw one: the body is read, so it only ever says the client left.
        request = Request({**scope, "path_params": {"agent": agent}}, receive)
        loop = asyncio.get_running_loop()
        taken, answer = await loop.run_in_executor(self.threads, self._take, body, rest, request)
        if taken is not None and answer is None:
            # A blocking send, recorded: wait as the SDK path does, on the loop. From
            # here on the request is never handed to the SDK (it would send again).
            try:
                events = await self.handler.answered(taken.params, taken.events, taken.context)
            except Exception as error:  # noqa: BLE001 - answered as the SDK answers errors
                answer = _error(taken, error)
            else:
                answer = await loop.run_in_executor(self.threads, self._answer, taken, events)
        if answer is None:
            await self.app(scope, replay(messages, receive), send)
            return
        self.answered += 1
        await answer(scope, receive, send)

    def _plain(self, scope: Scope) -> bool:
        """Headers the SDK path would take as they are: JSON, A2A 1.0, a token (or a trial)."""
        media = version = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-type" and media is None:
                media = value.split(b";", 1)[0].strip().lower()
            elif name == b"a2a-version" and version is None:
                version = value.strip()
            elif name == b"authorization" and authorization is None:
                authorization = value.strip()
        return (
            media in (b"application/json", A2A_JSON_MEDIA_TYPE.encode())
            and version == b"1.0"
            and (bool(authorization) or self.service.trial)
        )

    def _take(self, body: bytes, rest: bool, request: Request) -> tuple[Any, JSONResponse | None]:
        """In a worker thread: parse, record, and answer unless the send blocks.
        ``(None, None)``: the SDK answers instead (nothing was written)."""
        taken = _parsed(body, rest, request)
        if taken is None:
            return None, None
        context = self.context.build(request)
        try:
            events = self.handler.record_now(taken.params, context)
        except A2AError:  # refused, nothing written: the SDK path answers with its error
            return None, None
        pending = _Pending(taken.params, taken.request, taken.rpc_id, events, context)
        if self.handler.answers_now(taken.params, events):
            return pending, self._answer(pending, events)
        return pending, None

    def _answer(self, taken: _Pending, events: Events) -> JSONResponse:
        """The SDK's answer to the send, from the handoff's history (blocking)."""
        try:  # the document the SDK would print, built as JSON (it costs less than a send)
            result = {"task": self.handler.task_document_now(events, queued=len(events) > 1)}
        except Exception as error:  # noqa: BLE001 - answered as the SDK answers errors
            return _error(taken, error)
        if taken.rpc_id is None:
            return JSONResponse(result, media_type=A2A_JSON_MEDIA_TYPE)
        # The envelope as the SDK's ``JSONRPC20Response(...).data`` orders it.
        return JSONResponse({"result": result, "id": taken.rpc_id, "jsonrpc": "2.0"})


@dataclass
class _Pending(_Send):
    """A send recorded: its history so far and the context it was recorded in."""

    events: Events
    context: Any


def _parsed(body: bytes, rest: bool, request: Request) -> _Send | None:
    """The request as the SDK would parse it, if it is an ordinary ``SendMessage``."""
    params = SendMessageRequest()
    rpc_id: str | int | None = None
    try:
        if rest:  # as the SDK's HTTP+JSON dispatcher: ``Parse`` of the body text
            Parse(body, params, ignore_unknown_fields=True)
        else:
            data = json.loads(body)
            if not isinstance(data, dict) or not set(data) <= _ENVELOPE:
                return None
            rpc_id = data.get("id")
            if (
                data.get("jsonrpc") != "2.0"
                or data.get("method") != "SendMessage"
                or isinstance(rpc_id, bool)
                or not isinstance(rpc_id, str | int)
                or not isinstance(data.get("params"), dict)
            ):
                return None
            ParseDict(data["params"], params, ignore_unknown_fields=True)
    except Exception:  # noqa: BLE001 - not JSON, not the SDK's request: the SDK says so
        return None
    configuration = params.configuration
    if (
        params.tenant
        or configuration.HasField("task_push_notification_config")
        or configuration.HasField("history_length")
    ):
        return None
    return _Send(params, request, rpc_id)


def _error(taken: _Send, error: Exception) -> JSONResponse:
    """A failure after the send was recorded, answered as the SDK answers it."""
    if not isinstance(error, A2AError):
        log.exception("A2A fast path: a recorded send not answered", exc_info=error)
        error = a2a_error(error)
    if taken.rpc_id is None:
        payload = build_rest_error_payload(error)
        return JSONResponse(payload, status_code=payload.get("error", {}).get("code", 500))
    return JSONResponse(build_error_response(taken.rpc_id, error))
