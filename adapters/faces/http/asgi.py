"""ASGI plumbing of the HTTP API: the message types, and the body limit.

A request body over ``MAX_BODY_BYTES`` gets 413 before any route reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_ledger.domain.rules import MAX_INPUT_BYTES

__all__ = ["MAX_BODY_BYTES", "BodyLimit", "Message", "Receive", "Scope", "Send"]

MAX_BODY_BYTES = MAX_INPUT_BYTES
"""The largest request body accepted (1 MiB, as on the command line); larger: 413."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: a request body over ``MAX_BODY_BYTES`` gets 413, unread.

    It checks ``Content-Length`` first and counts the bytes of a chunked body as
    they arrive, so no oversized body is ever handed to a route.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            response = JSONResponse({"error": _TOO_LARGE}, status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise StarletteHTTPException(413, detail=_TOO_LARGE["message"])
            return message

        await self.app(scope, counted, send)


_TOO_LARGE = {
    "code": "too_large",
    "message": f"request body: over the {MAX_BODY_BYTES:,}-byte limit",
}
