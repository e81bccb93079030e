"""The dashboard's pages and fragments under ``/dashboard``; every one of them only reads
(the forms that act post to :mod:`.actions`).

Each page has a fragment twin under ``/dashboard/partials/...`` that renders its
``#view`` alone: the page's script fetches it to move the time slider
(``?as_of=``) and to refresh the page live when the stream says the log grew.
Without a valid token a page redirects to the login form and a fragment or the
stream answers 401. Route functions are plain ``def``: they run on the thread pool,
where the ledger's blocking reads belong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from handoff_ledger.adapters.faces.dashboard import actions, auth, live
from handoff_ledger.adapters.faces.dashboard.models import agent_model, chain_model, overview_model
from handoff_ledger.adapters.faces.dashboard.render import SECURITY_HEADERS, html
from handoff_ledger.adapters.faces.runtime.errors import status_for
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.digest import build_digest
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.domain.durations import parse_time
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.states import Status

__all__ = ["router"]

router = APIRouter(prefix="/dashboard", include_in_schema=False)
router.include_router(auth.router)
router.include_router(live.router)
router.include_router(actions.router)

AsOf = Annotated[str | None, Query(description="Show the ledger as it stood at this time.")]
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    return parse_time(text, name="as_of")


def _chain_id(svc: Service, text: str) -> UUID:
    return resolve_id(svc.ledger, text, noun="a handoff or chain id")


def _page(
    request: Request, template: str, partial: str, build: Callable[[], dict[str, Any]]
) -> Response:
    """A whole page: sign in first if need be; a ledger error becomes an error page."""
    who = auth.viewer(request)
    if who is None:
        return auth.sign_in(request)
    try:
        model = build()
    except HandoffError as error:
        return _error(error, who)
    return html(template, partial=partial, **auth.header(who), **model)


def _fragment(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
    """A page's ``#view`` alone (401 without a valid token)."""
    who = auth.viewer(request)
    if who is None:
        return auth.unauthorized()
    try:
        model = build()
    except HandoffError as error:
        return html("_error.html", status_code=status_for(error), message=error.message)
    return html(template, **model)


def _error(error: HandoffError, who: Caller) -> Response:
    return html(
        "error.html",
        status_code=status_for(error),
        message=error.message,
        **auth.header(who),
    )


@router.get("")
def root() -> Response:
    """``/dashboard`` → ``/dashboard/``."""
    return RedirectResponse("/dashboard/", status_code=308, headers=SECURITY_HEADERS)


@router.get("/")
def overview(request: Request, as_of: AsOf = None) -> Response:
    """The overview: agents board, overdue list, live log."""
    svc = auth.service(request)
    return _page(
        request,
        "overview.html",
        "/dashboard/partials/overview",
        lambda: _waiting(request, overview_model(svc, _as_of(as_of))),
    )


@router.get("/partials/overview")
def overview_fragment(request: Request, as_of: AsOf = None) -> Response:
    """The overview's view, at ``as_of``."""
    svc = auth.service(request)
    return _fragment(
        request, "_overview.html", lambda: _waiting(request, overview_model(svc, _as_of(as_of)))
    )


@router.get("/agents/{name:path}")
def agent(request: Request, name: str, as_of: AsOf = None) -> Response:
    """One agent: its status and its queue, head first, with timers."""
    svc = auth.service(request)
    return _page(
        request,
        "agent.html",
        f"/dashboard/partials/agents/{_quoted(name)}",
        lambda: agent_model(svc, name, _as_of(as_of)),
    )


@router.get("/partials/agents/{name:path}")
def agent_fragment(request: Request, name: str, as_of: AsOf = None) -> Response:
    """An agent's view, at ``as_of``."""
    svc = auth.service(request)
    return _fragment(request, "_agent.html", lambda: agent_model(svc, name, _as_of(as_of)))


@router.get("/chains/{id}")
def chain(request: Request, id: str, as_of: AsOf = None) -> Response:
    """A chain as a tree of timelines, where it broke highlighted."""
    svc = auth.service(request)
    return _page(
        request,
        "chain.html",
        f"/dashboard/partials/chains/{_quoted(id)}",
        lambda: _acting(request, chain_model(svc, _chain_id(svc, id), _as_of(as_of))),
    )


@router.get("/partials/chains/{id}")
def chain_fragment(request: Request, id: str, as_of: AsOf = None) -> Response:
    """A chain's view, at ``as_of``."""
    svc = auth.service(request)
    return _fragment(
        request,
        "_chain.html",
        lambda: _acting(request, chain_model(svc, _chain_id(svc, id), _as_of(as_of))),
    )


@router.get("/find")
def find(request: Request, id: Annotated[str, Query()] = "") -> Response:
    """The header's search box: a handoff or chain id → its chain page."""
    if auth.viewer(request) is None:
        return auth.sign_in(request)
    target = f"/dashboard/chains/{_quoted(id.strip())}" if id.strip() else "/dashboard/"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The dashboard's script and style sheet (no data in them: no token needed)."""
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    body = files("handoff_ledger.adapters.faces.dashboard").joinpath("static", name).read_bytes()
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=STATIC[name], headers=headers)


def _signed_in(request: Request) -> Caller | None:
    who = auth.viewer(request)
    return None if who is None or who == auth.TRIAL_VIEWER else who


def _acting(request: Request, model: dict[str, Any]) -> dict[str, Any]:
    """A live chain's handoffs with the commands the viewer may give on each."""
    who = _signed_in(request)
    model["csrf"] = actions.csrf_token(request) if who else None
    model["labels"] = {name: action.label for name, action in actions.ACTIONS.items()}
    model["statuses"] = [status.value for status in Status]
    if who is None or model["as_of"]:
        return model
    ledger = auth.service(request).ledger
    pending = list(model["roots"])
    while pending:
        node = pending.pop()
        pending.extend(node["children"])
        handoff = ledger.get(UUID(node["row"]["id"]))
        node["actions"] = actions.permitted(ledger, handoff, who)
    return model


def _waiting(request: Request, model: dict[str, Any]) -> dict[str, Any]:
    """The overview with what waits on the signed-in viewer (live only)."""
    who = _signed_in(request)
    model["waiting"] = None
    if who is not None and not model["as_of"]:
        svc = auth.service(request)
        now = svc.ledger.clock.now()
        digest = build_digest(svc.ledger, svc.fresh_views(), now, agent=who.agent)
        model["waiting"] = digest["waiting"]
    return model


def _quoted(text: str) -> str:
    return quote(text, safe="")
