"""The A2A routes of ``handoff serve``: cards, JSON-RPC and HTTP+JSON, per agent.

- ``GET /.well-known/agent-card.json``: the ledger's card (every agent);
- ``GET /a2a/{agent}/.well-known/agent-card.json``: an agent's card;
- ``POST /a2a/{agent}``: JSON-RPC; ``/a2a/{agent}/message:send``, ``/tasks/…``:
  HTTP+JSON (the SDK's dispatchers, over :class:`.handler.LedgerRequestHandler`);
- ``POST /a2a``: JSON-RPC naming the agent in each request's ``tenant`` (the
  ledger card's interfaces).

Every call but the cards names its caller as every face does: a bearer token, or
on a loopback trial the ``X-Handoff-Agent`` header, else the guest agent
:data:`GUEST` (docs/a2a.md). The token is checked on the handler's worker thread,
in the same trip as the call's store work; a caller that cannot be named gets a
401 (nothing is read from or written to the ledger before that check).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from a2a.auth.user import User
from a2a.extensions.common import HTTP_EXTENSION_HEADER, get_requested_extensions
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes.common import ServerCallContextBuilder
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.server.routes.rest_routes import create_rest_routes
from a2a.utils.errors import InvalidRequestError
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from handoff_ledger.adapters.faces.a2a.cards import agent_card, ledger_card
from handoff_ledger.adapters.faces.a2a.handler import LedgerRequestHandler
from handoff_ledger.adapters.faces.runtime.errors import Unauthorized, named_error
from handoff_ledger.adapters.faces.runtime.service import TRIAL_HEADER, Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.rules import require_agent_name

__all__ = ["GUEST", "CallContext", "a2a_routes"]

GUEST = "guest"
"""Who an unauthenticated A2A caller is on a loopback trial (``serve --trial``)."""

CALLER = "handoff.a2a.caller"
REFUSED = "handoff.a2a.unauthorized"
Endpoint = Callable[[Request], Awaitable[Response]]


class _Agent(User):
    """The caller as the SDK's user (known once the handler has resolved it)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    @property
    def is_authenticated(self) -> bool:
        return isinstance(self.request.scope.get(CALLER), Caller)

    @property
    def user_name(self) -> str:
        caller = self.request.scope.get(CALLER)
        return caller.agent if isinstance(caller, Caller) else ""


class CallContext(ServerCallContextBuilder):
    """What the handler needs from a request: who calls (resolved on the handler's
    worker thread, with its other store work), the agent, the headers, a way to see
    the client leave."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def build(self, request: Request) -> ServerCallContext:
        return ServerCallContext(
            user=_Agent(request),
            state={
                "resolve_caller": lambda: _caller(self.service, request),
                "agent": request.path_params.get("agent"),
                "headers": dict(request.headers),
                "gone": request.is_disconnected,
            },
            requested_extensions=get_requested_extensions(
                request.headers.getlist(HTTP_EXTENSION_HEADER)
            ),
        )


def _caller(service: Service, request: Request) -> Caller:
    """The request's caller (blocking: a token is checked against the store), once.

    A caller that cannot be named is remembered on the request and refused with an
    A2A error here; :func:`_answer_401` then answers the request with a 401 instead.
    """
    known = request.scope.get(CALLER)
    if isinstance(known, Caller):
        return known
    authorization = request.headers.get("authorization", "")
    trial_agent = request.headers.get(TRIAL_HEADER, "")
    if service.trial and not authorization.strip() and not trial_agent.strip():
        trial_agent = GUEST
    try:
        caller = service.caller_for(authorization, trial_agent)
    except Unauthorized as error:
        request.scope[REFUSED] = error
        raise InvalidRequestError(error.message) from None
    request.scope[CALLER] = caller
    return caller


def _answer_401(service: Service, endpoint: Endpoint) -> Endpoint:
    async def answered(request: Request) -> Response:
        if not service.trial and not request.headers.get("authorization", "").strip():
            # No token at all: refused at once, before the SDK reads anything.
            return _unauthorized(Unauthorized("authorization: a bearer token is required"))
        response = await endpoint(request)
        refused = request.scope.get(REFUSED)
        if isinstance(refused, Unauthorized):
            return _unauthorized(refused)
        return response

    return answered


def _unauthorized(error: Unauthorized) -> Response:
    return JSONResponse(named_error(error), status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _cards(service: Service) -> list[BaseRoute]:
    def protocol() -> Any:
        current = service.ledger.protocol_in_force()
        return current.protocol if current else None

    async def one(request: Request) -> Response:
        agent = request.path_params["agent"]
        try:
            require_agent_name(agent, "agent")
            rules = await to_thread.run_sync(protocol)
            if rules is not None:
                rules.agent(agent, "agent")
        except HandoffError as error:
            return JSONResponse(named_error(error), status_code=404)
        card = agent_card(_base(request), agent, rules, trial=service.trial)
        return JSONResponse(agent_card_to_dict(card))

    async def ledger(request: Request) -> Response:
        def agents() -> tuple[Any, list[str]]:
            rules = protocol()
            if rules is not None:
                return rules, list(rules.agents)
            return None, sorted(row["agent"] for row in service.views.read.agents())

        rules, names = await to_thread.run_sync(agents)
        card = ledger_card(_base(request), names, rules, trial=service.trial)
        return JSONResponse(agent_card_to_dict(card))

    return [
        Route("/.well-known/agent-card.json", ledger, methods=["GET"]),
        Route("/a2a/{agent:path}/.well-known/agent-card.json", one, methods=["GET"]),
    ]


def a2a_routes(service: Service, handler: LedgerRequestHandler | None = None) -> list[BaseRoute]:
    """Every A2A route, in the order they must be tried (cards, HTTP+JSON, JSON-RPC),
    over ``handler`` (the one the A2A fast path shares; else a handler of their own)."""
    handler = handler or LedgerRequestHandler(service)
    context = CallContext(service)
    routes = _cards(service)
    for route in create_rest_routes(handler, context, path_prefix="/a2a/{agent:path}"):
        # The SDK also mounts its routes under ``/{tenant}`` at the root: at the root
        # of the whole server that would shadow every other face, so only the routes
        # under the agent's base are kept.
        if isinstance(route, Route):
            routes.append(
                Route(route.path, _answer_401(service, route.endpoint), methods=route.methods)
            )
    jsonrpc = _answer_401(service, JsonRpcDispatcher(handler, context).handle_requests)
    routes.append(Route("/a2a", jsonrpc, methods=["POST"]))
    routes.append(Route("/a2a/{agent:path}", jsonrpc, methods=["POST"]))
    return routes
