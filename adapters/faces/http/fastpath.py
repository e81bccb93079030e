"""The commands' fast path: the write requests of the API in one thread hop.

``POST /handoffs`` and ``POST /handoffs/{id}/<command>`` are most of an agent's
traffic. Through FastAPI each one resolves three dependencies, validates the body,
hops to the thread pool two to four times (once per blocking dependency and for the
route), and validates and re-encodes the document it returns: measured under the
benchmark's load, about three times the CPU of the command itself.

This ASGI middleware answers those requests itself when they are ordinary: JSON
body, no query string, valid body, valid token. It reads the body on the event
loop, then does everything else in one thread of its pool: the same pydantic body
model as the route, the same token check, the same route function (so the same
ledger call and the same document), encoded once with ``json``.

Anything else is handed to FastAPI untouched (the body replayed), *before*
anything is written: a body that is not JSON or fails validation, a bad or
missing token, a NUL in the path, an empty body. So every error document, status
code and precedence (401 before 422, and so on) is FastAPI's own, as before; the
fast path only ever answers what the route would have answered with success, or
with a ledger refusal, which it maps with the same ``error_answer``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_ledger.adapters.faces.http import routes
from handoff_ledger.adapters.faces.http.asgi import Message, Receive, Scope, Send
from handoff_ledger.adapters.faces.http.bodies import (
    AckBody,
    CompleteBody,
    FailBody,
    NoteBody,
    ReasonBody,
    ReassignBody,
    ReplyBody,
    SendBody,
    StatusBody,
)
from handoff_ledger.adapters.faces.runtime.errors import (
    Unauthorized,
    error_answer,
    unexpected_answer,
)
from handoff_ledger.adapters.faces.runtime.service import TRIAL_HEADER, Service
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.domain.errors import HandoffError

__all__ = ["COMMANDS", "Command", "CommandFastPath"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """One write route: its function, body model and success status."""

    endpoint: Callable[..., Reply]
    body: type[BaseModel]
    status: int = 200


COMMANDS: dict[str | None, Command] = {
    None: Command(routes.send, SendBody, 201),
    "ack": Command(routes.ack, AckBody),
    "status": Command(routes.status, StatusBody),
    "complete": Command(routes.complete, CompleteBody),
    "fail": Command(routes.fail, FailBody),
    "decline": Command(routes.decline, ReasonBody),
    "cancel": Command(routes.cancel, ReasonBody),
    "reassign": Command(routes.reassign, ReassignBody),
    "reply": Command(routes.reply, ReplyBody),
    "notes": Command(routes.note, NoteBody, 201),
}
"""By the path's last segment (None: ``POST /handoffs``); tests check these against the
FastAPI routes."""

_PATH = re.compile(
    r"/handoffs(?:/([^/]+)/(ack|status|complete|fail|decline|cancel|reassign|reply|notes))?"
)
_HEADERS = {b"authorization", b"content-type", b"idempotency-key", TRIAL_HEADER.lower().encode()}

Answer = tuple[int, bytes, dict[str, str] | None]

THREADS = 40
"""Commands run at once at most (as many as FastAPI's own thread pool allows)."""


class CommandFastPath:
    """ASGI middleware: ordinary command requests answered in one hop, others passed on."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], service: Service):
        self.app = app
        self.service = service
        # Its own threads: a plain executor hop costs about half of anyio's (its
        # capacity limiter, cancel scope and checkpoints), measured 70 vs 120 µs.
        self.threads = ThreadPoolExecutor(THREADS, thread_name_prefix="fast-path")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = None
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("query_string")
            and not scope.get("root_path")
        ):
            matched = _PATH.fullmatch(scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _HEADERS and name not in headers:  # the first one, as Starlette reads
                headers[name] = value.decode("latin-1")
        messages: list[Message] = []
        try:
            body = await _read_body(receive, messages)
        except StarletteHTTPException as error:  # over the body limit: FastAPI answers it
            await self.app(scope, _replay(messages, receive, error), send)
            return
        answer = None
        media = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
        if body is not None and body and media == "application/json":
            command = COMMANDS[matched.group(2)]
            answer = await asyncio.get_running_loop().run_in_executor(
                self.threads, self._answer, command, matched.group(1), body, headers
            )
        if answer is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        status, content, extra = answer
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in (extra or {}).items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": content})

    def _answer(
        self, command: Command, handoff_id: str | None, body: bytes, headers: dict[bytes, str]
    ) -> Answer | None:
        """Run the command (in a worker thread), or None to hand the request to FastAPI."""
        try:
            try:
                data = json.loads(body, parse_constant=_refuse)
            except RecursionError:  # nested thousands deep: FastAPI answers it (422)
                return None
            if not isinstance(data, dict) or (handoff_id is not None and "\x00" in handoff_id):
                return None
            parsed = command.body.model_validate(data)
            me = self.service.caller_for(
                headers.get(b"authorization", ""), headers.get(TRIAL_HEADER.lower().encode(), "")
            )
        except (ValueError, ValidationError, Unauthorized):
            return None  # FastAPI gives the answer it always gave (422, 401, ...)
        arguments: dict[str, Any] = {"body": parsed, "svc": self.service, "me": me}
        response = None
        if handoff_id is None:
            response = Response()
            response.status_code = None  # type: ignore[assignment]  # as FastAPI's own
            arguments["response"] = response
            arguments["idempotency_key"] = headers.get(b"idempotency-key")
        else:
            arguments["id"] = handoff_id
        try:
            document = command.endpoint(**arguments)
        except HandoffError as error:
            status, refusal, extra = error_answer(error)
            return status, _encode(refusal), extra
        except Exception as error:
            status, document = unexpected_answer(error)
            if status == 500:
                log.exception("unexpected error on POST %s", command.endpoint.__name__)
            return status, _encode(document), None
        status = (response.status_code if response is not None else None) or command.status
        return status, _encode(document), None


async def _read_body(receive: Receive, messages: list[Message]) -> bytes | None:
    """The whole body, every message kept in ``messages``; None if the client left."""
    chunks = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(messages: list[Message], receive: Receive, error: Exception | None = None) -> Receive:
    """A ``receive`` that gives the messages already read again, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        if error is not None:
            raise error
        return await receive()

    return replayed


def _refuse(constant: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON: such a body goes the long way."""
    raise ValueError(f"{constant} is not JSON")


def _encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
