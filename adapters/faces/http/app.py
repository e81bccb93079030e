"""The HTTP API's own pieces: its routers, its error answers and its body limit.

Every failure is a JSON document ``{"error": {"code", "message", "field"?}}``
(statuses in :mod:`handoff_ledger.adapters.faces.runtime.errors`), plus 413 for a
body over ``MAX_BODY_BYTES`` (:mod:`.asgi`). Nothing is written on any error, and no stack trace
reaches a client. ``faces/server.py`` mounts these with the dashboard and MCP.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_ledger.adapters.faces.http.asgi import BodyLimit
from handoff_ledger.adapters.faces.runtime.errors import error_answer, unexpected_answer
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.domain.errors import HandoffError

__all__ = [
    "add_error_answers",
    "add_middleware",
    "routers",
]

log = logging.getLogger(__name__)


def routers() -> list[APIRouter]:
    """The API's resources, in the order they are included."""
    from handoff_ledger.adapters.faces.http.forensics import router as forensics
    from handoff_ledger.adapters.faces.http.routes import router
    from handoff_ledger.adapters.faces.http.streams import router as streams
    from handoff_ledger.adapters.faces.http.work import router as work

    return [router, work, streams, forensics]


def add_error_answers(app: FastAPI) -> None:
    """Answer every failure of ``app`` with an error document, never a stack trace."""

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
        status, document = unexpected_answer(error)
        if status == 500:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(document, status_code=status)


def add_middleware(app: FastAPI, service: Service, *, fast_path: bool) -> None:
    """The commands' fast path (unless ``fast_path`` is off) inside the body limit."""
    from handoff_ledger.adapters.faces.http.fastpath import CommandFastPath

    # Innermost first: the commands' fast path sits inside the body limit.
    if fast_path:
        app.add_middleware(CommandFastPath, service=service)
    app.add_middleware(BodyLimit)
