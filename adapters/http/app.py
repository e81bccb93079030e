"""The ASGI application behind ``handoff serve``: state, identity, errors, limits.

One ``Ledger`` (and its views) per application, shared by the request threads.
Identity comes from the bearer token only: the acting agent is the token's agent,
never a field the caller fills in. In a loopback-only trial (``serve --trial``) the
caller names itself with ``X-Handoff-Agent`` instead.

Every failure is a JSON document ``{"error": {"code", "message", "field"?}}``:
401 no or bad token, 403 not yours, 404 unknown, 409 state conflict or lost race,
413 body over ``MAX_BODY_BYTES``, 422 invalid field (with its path). Nothing is
written on any error, and no stack trace reaches a client.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_ledger.adapters.documents import error_document
from handoff_ledger.adapters.fresh_rounds import FreshRounds
from handoff_ledger.adapters.ledger import Ledger
from handoff_ledger.adapters.token_cache import TokenCache
from handoff_ledger.adapters.tokens import Caller
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.follower import FollowerProcess, follow_until
from handoff_ledger.domain.errors import (
    HandoffError,
    InvalidInput,
    NotPermitted,
    Refused,
    UnknownHandoff,
)

__all__ = [
    "INTERNAL_ERROR",
    "MAX_BODY_BYTES",
    "Service",
    "app_from_env",
    "create_app",
    "error_answer",
    "status_for",
]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_048_576
"""The largest request body accepted (1 MiB); larger ones get 413."""

TRIAL_HEADER = "X-Handoff-Agent"

TRIAL_ENV = "HANDOFF_SERVE_TRIAL"
"""Set by ``serve --workers N --trial`` for the worker processes it starts."""

FOLLOW_SETTLE = 0.25
"""Seconds the follower lets writes accumulate before applying them as one batch."""
QUEUE_WAIT = 2.0
"""How long an ``ack`` in a worker process waits for the supervisor's queues follower
before catching the view up itself."""
QUEUE_POLL = 0.005
"""How often the queues follower of ``serve --workers N`` looks for new events where it
cannot LISTEN (SQLite), and how often a worker's ``ack`` looks at the view's position."""


@dataclass
class Service:
    """What every request shares: the ledger, its views, and how callers are known."""

    ledger: Ledger
    views: Views
    trial: bool = False

    def __post_init__(self) -> None:
        self._catch_up_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self.queue_view = Views(self.ledger, [self.views.projection("queues")])
        others = [p for p in self.views.projections if p.name != "queues"]
        self.followed = Views(self.ledger, others)
        self.tokens = TokenCache(self.views.store)
        self.queue_rounds: FreshRounds | None = None
        """Set by :meth:`follow` in a process that serves requests itself."""
        self.queue_child: FollowerProcess | None = None
        """Set by :meth:`follow` when a child process catches the queues up for acks."""

    def fresh_views(self) -> Views:
        """The views caught up to the log (one request thread at a time catches up)."""
        with self._catch_up_lock:
            self.views.catch_up()
        return self.views

    def queues_at(self, position: int) -> Views:
        """The queues view once it has applied log ``position``: what ``ack`` answers from.

        In ``handoff serve`` the views follower process catches the view up when an
        ``ack`` (whose event is committed) asks it to
        (:meth:`FollowerProcess.caught_up`); if it does not answer in
        ``QUEUE_WAIT`` seconds, the request catches the view up itself. With a
        follower thread instead (tests, embedding), the acks of this process catch
        it up: each takes a catch-up begun after it asked, shared with the acks
        asking at the same time (:class:`FreshRounds`), or none if a round that
        ended meanwhile took the view past ``position``. A worker process of
        ``serve --workers N`` waits for the supervisor's follower, polling the
        view's position, for at most ``QUEUE_WAIT`` seconds too.
        """
        if self.queue_child is not None:
            if not self.queue_child.caught_up(position, QUEUE_WAIT):
                with self._queue_lock:
                    self.queue_view.catch_up()
            return self.queue_view
        if self.queue_rounds is not None:
            runner = self.queue_view.runner
            self.queue_rounds.wait(done=lambda: runner.reached >= position)
            return self.queue_view
        deadline = time.monotonic() + QUEUE_WAIT
        while time.monotonic() < deadline:
            if self.queue_view.store.positions(["queues"])["queues"] >= position:
                return self.queue_view
            time.sleep(0.002)
        with self._queue_lock:
            self.queue_view.catch_up()
        return self.queue_view

    def follow(
        self, stop: threading.Event, *, for_workers: bool = False, in_process: bool = False
    ) -> threading.Thread:
        """Keep the views following the log until ``stop``; returns the thread to join.

        The queues view is caught up when an ``ack`` needs it (:meth:`queues_at`), or,
        ``for_workers`` (the supervisor of ``serve --workers N``, whose acks are in
        other processes), by a follower at every write; the other views let writes
        settle for ``FOLLOW_SETTLE`` seconds so a burst becomes one batch. They are
        followed by a thread, or, ``in_process``, by a supervised child process
        (:class:`FollowerProcess`: ``handoff serve``'s request threads then never
        wait for a view batch to let go of the interpreter), which then also
        catches the queues up for this process's acks.
        """
        if for_workers:
            queues = threading.Thread(
                target=follow_until,
                args=(self.queue_view, stop),
                kwargs={"settle": 0.0, "poll_interval": QUEUE_POLL},
                name="queues-follower",
                daemon=True,
            )
            queues.start()
        elif not in_process:
            self.queue_rounds = FreshRounds(self.queue_view.catch_up)
        if in_process:
            names = [p.name for p in self.followed.projections]
            child = FollowerProcess(
                self.ledger,
                names,
                settle=FOLLOW_SETTLE,
                on_request=None if for_workers else ["queues"],
            )
            if not for_workers:
                self.queue_child = child
            return child.run(stop)
        others = threading.Thread(
            target=follow_until,
            args=(self.followed, stop),
            kwargs={"settle": FOLLOW_SETTLE, "poll_interval": 0.1},
            name="views-follower",
            daemon=True,
        )
        others.start()
        return others

    def caller(self, request: Request) -> Caller:
        """The agent the request acts as, or a 401."""
        return self.caller_for(
            request.headers.get("authorization", ""), request.headers.get(TRIAL_HEADER, "")
        )

    def caller_for(self, authorization: str, trial_agent: str = "") -> Caller:
        """The agent named by these headers' values (``Authorization``, the trial
        header), or a 401."""
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            found = self.tokens.authenticate(secret.strip())
            if found is None:
                raise Unauthorized("token: unknown or revoked bearer token")
            return found
        if self.trial:
            agent = trial_agent.strip()
            if agent:
                return Caller(agent=agent, admin=False)
            raise Unauthorized(f"trial mode: name yourself with the {TRIAL_HEADER} header")
        raise Unauthorized("authorization: a bearer token is required (Authorization: Bearer …)")


class Unauthorized(HandoffError):
    """No token, or one that is unknown or revoked (HTTP 401)."""

    code = "unauthorized"


def status_for(error: HandoffError) -> int:
    """The HTTP status of a ledger error."""
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, UnknownHandoff):
        return 404
    if isinstance(error, NotPermitted):
        return 403
    if isinstance(error, Refused):
        return 409
    if isinstance(error, InvalidInput):
        return 422
    return 400


def app_from_env() -> FastAPI:
    """A worker's app (``serve --workers N``): its own ledger from ``HANDOFF_DB``.

    The supervising ``serve`` process keeps the views following the log, so the
    workers start no follower of their own.
    """
    from handoff_ledger.adapters.bootstrap import open_ledger
    from handoff_ledger.adapters.clock import clock_from_env

    ledger = open_ledger(os.environ.get("HANDOFF_DB"), clock=clock_from_env())
    return create_app(ledger, trial=os.environ.get(TRIAL_ENV) == "1")


def create_app(ledger: Ledger, *, trial: bool = False, fast_path: bool = True) -> FastAPI:
    """The HTTP API over ``ledger`` (its lifetime is the caller's to manage).

    ``fast_path=False`` sends every request through FastAPI (the tests compare both).
    """
    from handoff_ledger.adapters.dashboard import router as dashboard
    from handoff_ledger.adapters.http.fastpath import CommandFastPath
    from handoff_ledger.adapters.http.forensics import router as forensics
    from handoff_ledger.adapters.http.routes import router
    from handoff_ledger.adapters.http.streams import router as streams
    from handoff_ledger.adapters.mcp.streamable import mount_mcp

    app = FastAPI(
        title="handoff-ledger",
        version="0.1.0",
        description="A durable, auditable handoff protocol for teams of agents. Every "
        "operation of the `handoff` command line, as a resource; the acting agent is the "
        "bearer token's agent.",
    )
    app.state.service = Service(ledger=ledger, views=Views(ledger), trial=trial)
    app.include_router(router)
    app.include_router(streams)
    app.include_router(forensics)
    app.include_router(dashboard)  # the web dashboard at /dashboard/ (docs/dashboard.md)

    mount_mcp(app)  # the MCP tools at /mcp, same tokens

    @app.exception_handler(HandoffError)
    async def ledger_error(request: Request, error: HandoffError) -> JSONResponse:
        status, document, headers = error_answer(error)
        return JSONResponse(document, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = ".".join(where) or "body"
        message = f"{field}: {first.get('msg', 'invalid')}"
        body = {"error": {"code": "invalid_input", "message": message, "field": field}}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # a body FastAPI could not even parse (not UTF-8 JSON)
            body = {"error": {"code": "invalid_input", "message": f"body: {error.detail}"}}
            body["error"]["field"] = "body"
            return JSONResponse(body, status_code=422)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            error.status_code, "http_error"
        )
        body = {"error": {"code": code, "message": str(error.detail)}}
        return JSONResponse(body, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(INTERNAL_ERROR, status_code=500)

    # Innermost first: the commands' fast path sits inside the body limit.
    if fast_path:
        app.add_middleware(CommandFastPath, service=app.state.service)
    app.add_middleware(BodyLimit)
    return app


def error_answer(error: HandoffError) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """The status, error document and headers with which a ledger error is answered."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    document = error_document(error)
    if isinstance(error, InvalidInput) and "field" not in document["error"]:
        # Messages name their field first ("ack_within: 'soon' is not a duration").
        named = error.message.split(":", 1)[0]
        if re.fullmatch(r"[a-z_][a-z_0-9.]*", named):
            document["error"]["field"] = named
    return status_for(error), document, headers


INTERNAL_ERROR = {"error": {"code": "internal", "message": "internal error (see the server log)"}}
"""The answer to a failure of the server itself (500); the details go to its log."""


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
