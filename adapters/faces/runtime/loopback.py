"""The loopback trial's guard against DNS rebinding, for every face at once.

``serve --trial`` listens on loopback and believes ``X-Handoff-Agent``. A page on
another site can still reach it: its own name, rebound to 127.0.0.1, sends the
browser's requests here with that name in ``Host``. So a trial server answers only
requests addressed to a loopback name (``Host`` is ``127.0.0.1``, ``localhost`` or
``[::1]``, any port): anything else is a 421. A request carrying another site's
``Origin`` is a 403. These are the checks the MCP SDK makes on ``/mcp``
(``TransportSecuritySettings``), applied in front of the API and the dashboard too.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_NAMES", "LoopbackOnly", "is_loopback_host", "is_loopback_origin"]

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
"""The names a trial server answers to in ``Host`` (with or without a port)."""


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header names this machine's loopback (any port, or none)."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: "[::1]" or "[::1]:8000"
        name, bracket, rest = host.partition("]")
        name += bracket
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    else:
        name, colon, port = host.partition(":")
        if colon and not port:
            return False
    return name in LOOPBACK_NAMES and (port == "" or port.isdigit())


def is_loopback_origin(origin: str) -> bool:
    """Whether an ``Origin`` header is a page served from loopback over HTTP(S)."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    return bool(sep) and scheme in {"http", "https"} and is_loopback_host(rest)


class LoopbackOnly:
    """ASGI middleware: 421 for a ``Host`` that is not loopback, 403 for a foreign ``Origin``.

    It sits outside every face, so nothing is read, authenticated or written first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        origin = headers.get("origin")
        if not is_loopback_host(host):
            code, status = "misdirected_request", 421
            message = (
                f"host: {host!r} is not a loopback name; a --trial server answers only "
                "127.0.0.1, localhost or [::1] (a guard against DNS rebinding)"
            )
        elif origin is not None and not is_loopback_origin(origin):
            code, status = "forbidden_origin", 403
            message = (
                f"origin: {origin!r} is another site; a --trial server answers pages "
                "served from loopback only"
            )
        else:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
        await response(scope, receive, send)
