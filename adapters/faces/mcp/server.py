"""The MCP server (the official SDK's low-level ``Server``) over the ledger's tools.

``build_server`` lists ``TOOLS`` with their input schemas and runs a call as the
agent ``identify`` names for the request. Results carry the tool's JSON document
twice, as ``structured_content`` and as JSON text (for hosts that read only text).
A failure is a tool error (``is_error``) whose document is the CLI's and the HTTP
API's ``{"error": {"code", "message", "field"?}}``: bad arguments, unknown handoffs
and refusals write nothing, and no traceback ever reaches the client.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from handoff_ledger.adapters.faces.mcp.arguments import Arguments
from handoff_ledger.adapters.faces.mcp.spec import Backend, ToolSpec
from handoff_ledger.adapters.faces.mcp.tools import TOOLS
from handoff_ledger.adapters.faces.runtime.errors import (
    invalid_fields,
    named_error,
    unexpected_answer,
)
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.vocabulary import ErrorDocument, Reply
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import HandoffError

__all__ = ["INSTRUCTIONS", "Identify", "LocalBackend", "build_server", "tool_list"]

log = logging.getLogger(__name__)

Identify = Callable[[ServerRequestContext[Any, Any]], Caller]
"""Who a request acts as (the ``--agent`` of stdio; the bearer token's agent over HTTP)."""

INSTRUCTIONS = (
    "handoff-ledger: a shared, permanent log of work handed between agents. "
    "Every tool acts as you ({agent}). To take work, call wait_for_handoff (it acks the "
    'next handoff for you; {{"taken": null}} means nothing yet), or check my_inbox and call '
    "ack_handoff at once (with eta and next_update). Then report_status before each promised "
    "update falls due (stuck or need_help when blocked), then complete_handoff with a "
    "result; decline_handoff with a reason if you will not take the work on, or "
    "fail_handoff if you tried and could not finish. To hand work on, use send_handoff with "
    "a payload and an idempotency key. my_notifications tells you what happened to work you "
    "handed off; when its receiver is stuck or needs help, answer with reply_to_handoff; "
    "cancel_handoff or reassign_handoff work you sent; add_note leaves a remark on any handoff. "
    "get_handoff, trace_chain and read_log show history. Durations: 45s, 30m, "
    "2h, 1h30m, 1d or ISO 8601 (PT30M)."
)

_JSON_FIELDS = frozenset({"payload", "result", "escalate_to"})


@dataclass
class LocalBackend:
    """The tools' backend for one process (stdio): the ledger and views it opened."""

    ledger: Ledger
    views: Views = field(init=False)

    def __post_init__(self) -> None:
        self.views = Views(self.ledger)
        self._lock = threading.Lock()

    def fresh_views(self) -> Views:
        """The views caught up to the log (one tool call at a time catches up)."""
        with self._lock:
            self.views.catch_up()
        return self.views


def tool_list() -> list[types.Tool]:
    """The tools as MCP describes them: name, description, input schema, hints."""
    return [
        types.Tool(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            input_schema=_schema(spec.arguments),
            annotations=types.ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=spec.idempotent,
                open_world_hint=False,
            ),
        )
        for spec in TOOLS
    ]


def build_server(backend: Backend, identify: Identify, *, agent: str | None = None) -> Server:
    """An MCP server whose tools act on ``backend`` as the agent ``identify`` returns."""
    by_name = {spec.name: spec for spec in TOOLS}
    tools = tool_list()

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            names = ", ".join(by_name)
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"unknown tool {params.name!r} (tools: {names})"
            )
        try:
            me = identify(ctx)
            arguments = _validate(spec, params.arguments or {})
            document = await anyio.to_thread.run_sync(partial(spec.run, backend, me, arguments))
        except HandoffError as error:
            return _result(named_error(error), error=True)
        except ValidationError as error:
            return _result(_invalid(spec, error), error=True)
        except Exception as error:  # a bug or a lost store: one line to the client
            status, answer = unexpected_answer(error)
            if status == 500:
                log.exception("tool %s failed", spec.name)
            return _result(answer, error=True)
        return _result(document)

    return Server(
        "handoff-ledger",
        version="0.1.0",
        title="handoff-ledger",
        instructions=INSTRUCTIONS.format(agent=agent or "the agent your token names"),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _schema(model: type[Arguments]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


def _validate(spec: ToolSpec, arguments: dict[str, Any]) -> Arguments:
    """The tool's arguments, checked; a JSON object or list sent as text is read first.

    Some hosts pass object arguments as JSON strings (``"payload": "{\\"a\\": 1}"``).
    """
    readable = dict(arguments)
    for name in _JSON_FIELDS & readable.keys():
        value = readable[name]
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            with suppress(json.JSONDecodeError):  # else left as text: the check names it
                readable[name] = json.loads(value)
    return spec.arguments.model_validate(readable)


def _invalid(spec: ToolSpec, error: ValidationError) -> ErrorDocument:
    """A validation failure as the HTTP API words it: ``argument: what is wrong``."""
    identity = (
        "the sender is you, the agent this server acts as"
        if spec.name == "send_handoff"
        else "you act as the agent this server acts as"
    )
    return invalid_fields(
        error.errors(), spec.arguments.model_fields, noun="argument", identity=identity
    )


def _result(document: Reply, *, error: bool = False) -> types.CallToolResult:
    text = json.dumps(document, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=document,
        is_error=error,
    )
