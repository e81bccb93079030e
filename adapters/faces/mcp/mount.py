"""``/mcp`` in ``handoff serve``, its SDK imported at the first request.

The MCP SDK is the largest import of ``serve`` (about 0.4 s of its 1.1 s on the
2-core machine), and most servers are never asked for a tool. :func:`mount_mcp`
adds the route and an app-long task group at once; the first request to ``/mcp``
imports :mod:`.streamable`, builds the session manager, starts it in that task
group and is then answered by it, as is every later one. Nothing else changes:
the same tokens, the same 401 document before the SDK is reached, the same
answers (tests/e2e/test_mcp.py, the MCP face's snapshot).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = ["MCP_PATH", "mount_mcp"]

MCP_PATH = "/mcp"

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def mount_mcp(app: FastAPI, path: str = MCP_PATH) -> None:
    """Serve the MCP tools at ``path`` of ``app`` (whose state holds the ``Service``)."""
    endpoint = LazyMCP(app)
    app.router.routes.append(Route(path, endpoint=endpoint))
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with anyio.create_task_group() as group, outer(application) as state:
            endpoint.group = group
            yield state
            endpoint.group = None
            group.cancel_scope.cancel()  # stops the session manager, if one started

    app.router.lifespan_context = lifespan


class LazyMCP:
    """The ``/mcp`` endpoint: builds and starts the SDK's handler at its first call."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.group: TaskGroup | None = None
        self._handler: Handler | None = None
        self._lock = anyio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._handler or await self._start()
        await handler(scope, receive, send)

    async def _start(self) -> Handler:
        async with self._lock:
            if self._handler is None:
                if self.group is None:
                    raise RuntimeError("/mcp was called outside the app's lifespan")
                # The import takes a few hundred milliseconds: off the event loop.
                streamable = await anyio.to_thread.run_sync(_import_streamable)
                self._handler = await streamable.start_mcp(self.app, self.group)
            return self._handler


def _import_streamable() -> Any:
    from handoff_ledger.adapters.faces.mcp import streamable

    return streamable
