"""The HTTP API's own pieces: its routers, its error answers and its body limit.

Every failure is a JSON document ``{"error": {"code", "message", "field"?}}``
(statuses in :mod:`handoff_ledger.adapters.faces.runtime.errors`), plus 413 for a
body over ``MAX_BODY_BYTES`` (:mod:`.asgi`). Nothing is written on any error, and no stack trace
reaches a client. ``faces/server.py`` mounts these with the dashboard and MCP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_ledger.adapters.faces.http.asgi import BodyLimit
from handoff_ledger.adapters.faces.http.bodies import SendBody
from handoff_ledger.adapters.faces.runtime.errors import (
    error_answer,
    invalid_fields,
    unexpected_answer,
)
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.services.vocabulary import ErrorDocument
from handoff_ledger.domain.errors import HandoffError

__all__ = [
    "add_error_answers",
    "add_middleware",
    "invalid_body",
    "routers",
]

log = logging.getLogger(__name__)


def routers() -> list[APIRouter]:
    """The API's resources, in the order they are included."""
    from handoff_ledger.adapters.faces.http.forensics import router as forensics
    from handoff_ledger.adapters.faces.http.metrics import router as metrics
    from handoff_ledger.adapters.faces.http.routes import router
    from handoff_ledger.adapters.faces.http.simulate import router as simulate
    from handoff_ledger.adapters.faces.http.streams import router as streams
    from handoff_ledger.adapters.faces.http.work import router as work

    return [router, work, streams, forensics, simulate, metrics]


def add_error_answers(app: FastAPI) -> None:
    """Answer every failure of ``app`` with an error document, never a stack trace."""

    @app.exception_handler(HandoffError)
    async def ledger_error(request: Request, error: HandoffError) -> JSONResponse:
        status, document, headers = error_answer(error)
        return JSONResponse(document, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_body(request, error.errors()), status_code=422)

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


_NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})
_JSON_ONLY = "send a JSON object with Content-Type: application/json"


def invalid_body(request: Request, problems: Sequence[Mapping[str, Any]]) -> ErrorDocument:
    """What was wrong with a request's body, saying what to do about it.

    A body that is not JSON (its character named), not a JSON object, or sent without
    a JSON content type (FastAPI then never reads it as JSON) is the ``body``'s fault;
    anything else names its field, as MCP names its arguments.
    """
    first = problems[0] if problems else {}
    where = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        at = where[1] if len(where) > 1 else "?"
        why = first.get("ctx", {}).get("error", "JSON decode error")
        message = f"body: not valid JSON at character {at} ({why}); {_JSON_ONLY}"
        return {"error": {"code": "invalid_input", "message": message, "field": "body"}}
    if where in (("body",), ()) and first.get("type") in _NOT_AN_OBJECT:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            sent = f"Content-Type {media!r}" if media else "no Content-Type"
            message = f"body: not read as JSON ({sent}); {_JSON_ONLY}"
        else:
            sent = type(first.get("input")).__name__.replace("list", "an array")
            sent = {"str": "a string", "int": "a number", "float": "a number"}.get(sent, sent)
            message = f"body: must be a JSON object ({{...}}), not {sent}"
        return {"error": {"code": "invalid_input", "message": message, "field": "body"}}
    route = request.scope.get("route")
    model = _body_model(route)
    allowed = list(model.model_fields) if model is not None else []
    sender = model is SendBody
    identity = (
        "the sender is the bearer token's agent"
        if sender
        else "the acting agent is the bearer token's agent"
    )
    relative = [{**p, "loc": tuple(x for x in p.get("loc", ()) if x != "body")} for p in problems]
    return invalid_fields(relative, allowed, noun="field", identity=identity)


def _body_model(route: Any) -> type[BaseModel] | None:
    """The pydantic model of a route's body, if it has one."""
    field = getattr(route, "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def add_middleware(app: FastAPI, service: Service, *, fast_path: bool) -> None:
    """The fast paths of commands and takes (unless ``fast_path`` is off) inside the
    body limit."""
    from handoff_ledger.adapters.faces.http.fastpath import CommandFastPath
    from handoff_ledger.adapters.faces.http.nextpath import NextFastPath

    # Innermost first: the fast paths sit inside the body limit.
    if fast_path:
        app.add_middleware(CommandFastPath, service=service)
        app.add_middleware(NextFastPath, service=service)
    app.add_middleware(BodyLimit)
