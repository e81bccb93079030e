"""The one composition root of ``handoff serve``: the faces mounted on one ASGI app.

The HTTP API, the dashboard and MCP never import one another; this module is the
only one that knows all three. It builds the shared :class:`Service` (with the
views-following strategy the process needs, :mod:`.runtime.following`) and mounts:
the API's resources, the dashboard at ``/dashboard/``, the MCP tools at ``/mcp``,
the A2A agents at ``/a2a/{agent}`` (with the ledger's card at the root).
A loopback trial puts one guard in front of all three (:mod:`.runtime.loopback`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from handoff_ledger.adapters.faces.a2a.fastpath import SendFastPath
from handoff_ledger.adapters.faces.a2a.handler import LedgerRequestHandler
from handoff_ledger.adapters.faces.a2a.routes import a2a_routes
from handoff_ledger.adapters.faces.dashboard import router as dashboard
from handoff_ledger.adapters.faces.http.app import add_error_answers, add_middleware, routers
from handoff_ledger.adapters.faces.http.metrics import METRICS_PUBLIC_ENV
from handoff_ledger.adapters.faces.mcp.mount import mount_mcp
from handoff_ledger.adapters.faces.runtime.following import Following, WaitForFollower
from handoff_ledger.adapters.faces.runtime.loopback import LoopbackOnly
from handoff_ledger.adapters.faces.runtime.service import TRIAL_ENV, Service
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views import Views

__all__ = ["app_from_env", "create_app"]


def create_app(
    ledger: Ledger,
    *,
    trial: bool = False,
    fast_path: bool = True,
    following: Following | None = None,
    metrics_public: bool = False,
) -> FastAPI:
    """The HTTP API, the dashboard, MCP and A2A over ``ledger`` (its lifetime is the caller's).

    ``following`` is how this process's views stay current (default: it waits for
    another process's follower, :class:`WaitForFollower`); start it with
    ``app.state.service.follow(stop)``. ``fast_path=False`` sends every request
    through FastAPI (the tests compare both). ``metrics_public`` serves ``/metrics``
    without a token (``serve --metrics-public``).
    """
    app = FastAPI(
        title="handoff-ledger",
        version="0.1.0",
        description="A durable, auditable handoff protocol for teams of agents. Every "
        "operation of the `handoff` command line, as a resource; the acting agent is the "
        "bearer token's agent.",
    )
    service = Service(
        ledger=ledger, views=Views(ledger), trial=trial, following=following or WaitForFollower()
    )
    app.state.service = service
    app.state.metrics_public = metrics_public
    for router in routers():
        app.include_router(router)
    app.include_router(dashboard)  # the web dashboard at /dashboard/ (docs/dashboard.md)

    mount_mcp(app)  # the MCP tools at /mcp, same tokens
    # Every agent as an A2A agent at /a2a/{agent}, the ledger's card at the root; first,
    # so an A2A request is not matched against every route of the API before its own.
    a2a_handler = LedgerRequestHandler(service)
    app.router.routes[0:0] = a2a_routes(service, a2a_handler)

    add_error_answers(app)
    if fast_path:  # innermost: inside the body limit and the commands' fast path
        app.add_middleware(SendFastPath, service=service, handler=a2a_handler)
    add_middleware(app, service, fast_path=fast_path)
    if trial:
        # Outermost: a rebound name is refused before any face reads or writes anything.
        app.add_middleware(LoopbackOnly)
    export_spans_at_shutdown(app, ledger)
    return app


def export_spans_at_shutdown(app: FastAPI, ledger: Ledger) -> None:
    """When the server shuts down, export the spans its ledger still holds (traces,
    docs/metrics.md): uvicorn stops on SIGTERM by raising it again once shut down, and
    a process killed by that signal runs no exit handler."""
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with outer(application) as state:
            yield state
        if ledger.tracing is not None:
            ledger.tracing.force_flush()

    app.router.lifespan_context = lifespan


def app_from_env() -> FastAPI:
    """A worker's app (``serve --workers N``): its own ledger from ``HANDOFF_DB``.

    The supervising ``serve`` process keeps the views following the log, so the
    workers start no follower of their own.
    """
    from handoff_ledger.adapters.ledger.clock import clock_from_env
    from handoff_ledger.adapters.store.bootstrap import open_ledger

    ledger = open_ledger(os.environ.get("HANDOFF_DB"), clock=clock_from_env())
    return create_app(
        ledger,
        trial=os.environ.get(TRIAL_ENV) == "1",
        metrics_public=os.environ.get(METRICS_PUBLIC_ENV) == "1",
    )
