"""Who is looking: a bearer token, kept by the browser in an HttpOnly cookie.

Browsers cannot put an ``Authorization`` header on a page load or an
``EventSource``, so the login form takes a token, checks it with
:func:`authenticate` and sets it as a cookie (HttpOnly: no script can read it;
SameSite=Strict: no other site's page can make the browser send it; scoped to
``/dashboard``). Every page, fragment and the dashboard's stream check the token
again on each request, so a revoked token stops working at once, on every
server of the store. A bearer header works too (scripts, ``curl``). In a
loopback-only trial (``serve --trial``) nobody needs to sign in.

Signing in and out only sets or clears the cookie: nothing is written to the ledger.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from handoff_ledger.adapters.faces.dashboard.render import SECURITY_HEADERS, html
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller, authenticate

__all__ = ["COOKIE", "TRIAL_VIEWER", "header", "router", "sign_in", "unauthorized", "viewer"]

COOKIE = "handoff_dashboard"
PATH = "/dashboard"
TRIAL_VIEWER = Caller(agent="trial", admin=False)
"""Who looks at a trial server's dashboard without signing in."""
MAX_FORM_BYTES = 4096
CROSS_SITE = "Sign in from this server's own sign-in form."

router = APIRouter()


def service(request: Request) -> Service:
    """The application's shared service."""
    found: Service = request.app.state.service
    return found


def secret_of(request: Request) -> str | None:
    """The token the request carries: its bearer header, else the dashboard cookie."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    return request.cookies.get(COOKIE) or None


def viewer(request: Request) -> Caller | None:
    """The agent whose token the request carries, if it is valid now (else None)."""
    svc = service(request)
    secret = secret_of(request)
    found = authenticate(svc.ledger, secret) if secret else None
    if found is None and svc.trial:
        return TRIAL_VIEWER
    return found


def header(who: Caller | None) -> dict[str, Any]:
    """What ``base.html`` shows about the viewer: pass it to every page that extends it."""
    return {"viewer": who, "trial": who == TRIAL_VIEWER}


def sign_in(request: Request) -> Response:
    """Where a page request without a valid token goes: the login page, back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    revoked = COOKIE in request.cookies
    location = f"{PATH}/login?next={quote(target, safe='')}" + ("&expired=1" if revoked else "")
    response = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    if revoked:
        response.delete_cookie(COOKIE, path=PATH)
    return response


def unauthorized() -> JSONResponse:
    """What a fragment or the stream answers without a valid token."""
    body = {"error": {"code": "unauthorized", "message": "dashboard: sign in again"}}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _safe_next(target: str | None) -> str:
    """Only a dashboard path of this server: never an open redirect elsewhere."""
    if target and target.startswith(PATH + "/") and not target.startswith("//"):
        return target
    return PATH + "/"


@router.get("/login")
def login_page(
    request: Request,
    next: Annotated[str | None, Query()] = None,
    expired: Annotated[int, Query()] = 0,
) -> Response:
    """The sign-in form."""
    message = "Your token is no longer valid (revoked?): sign in again." if expired else None
    return html("login.html", next=_safe_next(next), error=message, **header(viewer(request)))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token; if valid, keep it in the cookie and go on to the page asked for.

    A form posted from another site's page is refused (its ``Origin`` is not this
    server), so no other site can sign a browser in with a token of its choosing.
    """
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return html(
            "login.html", status_code=403, next=PATH + "/", error=CROSS_SITE, **header(None)
        )
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or [""])[0])
    ledger = service(request).ledger
    found = await anyio.to_thread.run_sync(authenticate, ledger, token) if token else None
    if found is None:
        error = "Unknown or revoked token." if token else "Paste a token to sign in."
        return html("login.html", status_code=401, next=target, error=error, **header(None))
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    """Forget the token (the token itself stays valid: revoke it with the CLI)."""
    response = RedirectResponse(f"{PATH}/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path=PATH)
    return response
