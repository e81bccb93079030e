"""The MCP tools inside ``handoff serve``: streamable HTTP at ``/mcp``, per-agent tokens.

Every request to ``/mcp`` is authenticated the way the rest of the API is
(``Service.caller``: a bearer token, or ``X-Handoff-Agent`` in a loopback trial);
without a valid token it gets the API's 401 document and never reaches the SDK.
The caller rides on the ASGI scope to the tool call, which acts as that agent.
The transport is stateless (no session state kept between requests, so any
``serve`` process can answer any request) and answers in plain JSON.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from handoff_ledger.adapters.faces.mcp.server import build_server
from handoff_ledger.adapters.faces.runtime.errors import Unauthorized, status_for
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.documents import error_document
from handoff_ledger.domain.errors import HandoffError

__all__ = ["start_mcp"]

CALLER = "handoff_ledger.caller"
"""The ASGI scope key the authenticated caller is kept under."""

_LOOPBACK = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


async def start_mcp(app: FastAPI, group: TaskGroup) -> Authenticated:
    """The MCP tools of ``app`` (whose state holds the ``Service``): a stateless session
    manager started in ``group`` (the app's lifespan's, which stops it), behind
    :class:`Authenticated`. Called by :mod:`.mount` at the first request to ``/mcp``."""
    service: Service = app.state.service
    manager = StreamableHTTPSessionManager(
        app=build_server(service, _caller_of),
        stateless=True,
        json_response=True,
        # A trial names its caller by header: keep other sites' pages off loopback.
        security_settings=_LOOPBACK if service.trial else None,
    )
    running = anyio.Event()

    async def run() -> None:
        async with manager.run():
            running.set()
            await anyio.sleep_forever()

    group.start_soon(run)
    await running.wait()
    return Authenticated(manager.handle_request, service)


class Authenticated:
    """ASGI wrapper: the caller from the request's token, else the API's 401 document."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller = await anyio.to_thread.run_sync(self.service.caller, Request(scope))
        except HandoffError as error:
            headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
            response = JSONResponse(
                error_document(error), status_code=status_for(error), headers=headers
            )
            await response(scope, receive, send)
            return
        scope[CALLER] = caller
        # The SDK ties a stateful session to the principal that opened it; name the agent.
        token = AccessToken(token="", client_id=caller.agent, scopes=[], subject=caller.agent)
        scope["user"] = AuthenticatedUser(token)
        await self.app(scope, receive, send)


def _caller_of(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    caller = request.scope.get(CALLER) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):
        raise Unauthorized("authorization: a bearer token is required (Authorization: Bearer …)")
    return caller
