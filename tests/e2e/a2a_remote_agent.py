"""A remote A2A agent that knows nothing of the ledger, built from ``a2a-sdk``'s own classes.

``python a2a_remote_agent.py PORT EXECUTIONS [--ignore-key]``: an ``AgentExecutor``
behind the SDK's ``DefaultRequestHandler``, its JSON-RPC and HTTP+JSON routes and
card in a Starlette app under uvicorn. Every time the executor starts work on a new
task it appends one JSON line to EXECUTIONS (the message id, the ledger
extension's key, the task id), so a test can count how often the agent acted on
each handoff.

The work: a payload with ``"ask"`` asks for input first (``input-required``) and
completes with the answer it gets; ``"refuse"`` rejects; ``"hold"`` starts work and
stays ``working`` (until cancelled); anything else completes with ``{"fixed":
<payload's n or issue>}`` as its one artifact, after working for
``REMOTE_WORK_SECONDS`` (default 0). A payload naming a ``customer`` also gets a
customer-ready ``reply`` in the result (what the seed protocol's follow-up reads).

Without ``--ignore-key`` the agent honours the ledger extension's idempotency key
(a message carrying a key it already made a task for answers that task and starts
nothing), as the issue asks of "a remote that honours the extension".
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Message,
    Part,
    Role,
    SendMessageRequest,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, TransportProtocol
from google.protobuf.json_format import MessageToDict, ParseDict
from starlette.applications import Starlette

EXTENSION = "urn:handoff-ledger:a2a:ledger:v1"


def key_of(message: Message) -> str | None:
    fields = MessageToDict(message).get("metadata", {}).get(EXTENSION, {})
    key = fields.get("key")
    return key if isinstance(key, str) else None


def payload_of(message: Message) -> dict[str, Any]:
    for part in message.parts:
        data = MessageToDict(part).get("data")
        if isinstance(data, dict):
            return data
    return {}


def result(payload: dict[str, Any], **fields: Any) -> list[Part]:
    """The one artifact's parts: ``fields``, and a customer-ready reply if there is a customer."""
    if "customer" in payload:
        fields["reply"] = f"Fixed: {payload.get('issue', 'your request')}"
    return [ParseDict({"data": fields}, Part())]


def agent_text(text: str) -> Message:
    return Message(message_id=f"agent:{text[:20]}", role=Role.ROLE_AGENT, parts=[Part(text=text)])


class FixingAgent(AgentExecutor):
    """Fixes bugs, asks when told to, records each start of work."""

    def __init__(self, executions: Path) -> None:
        self.executions = executions

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        assert context.task_id
        assert context.context_id
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        current = context.current_task
        if current is not None and current.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            answer = context.get_user_input()
            asked = payload_of(current.history[0]) if current.history else {}
            await updater.add_artifact(result(asked, answer=answer), name="result")
            await updater.complete()
            return
        with self.executions.open("a") as log:
            log.write(
                json.dumps(
                    {
                        "message_id": context.message.message_id,
                        "key": key_of(context.message),
                        "task": context.task_id,
                    }
                )
                + "\n"
            )
        await event_queue.enqueue_event(
            Task(
                id=context.task_id,
                context_id=context.context_id,
                status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                history=[context.message],
            )
        )
        payload = payload_of(context.message)
        if "refuse" in payload:
            await updater.reject(agent_text(f"not my job: {payload['refuse']}"))
            return
        await updater.start_work()
        if "hold" in payload:
            return  # working, and nothing more until someone cancels it
        await asyncio.sleep(float(os.environ.get("REMOTE_WORK_SECONDS", "0")))
        if "ask" in payload:
            await updater.requires_input(agent_text(str(payload["ask"])))
            return
        fixed = payload.get("n", payload.get("issue"))
        await updater.add_artifact(result(payload, fixed=fixed), name="result")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id
        assert context.context_id
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class KeyHonouringHandler(DefaultRequestHandler):
    """The SDK's handler, answering a repeated idempotency key with the task it made."""

    def __init__(self, *args: Any, honour_key: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.honour_key = honour_key
        self.tasks_by_key: dict[str, str] = {}
        self.lock = asyncio.Lock()

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Message | Task:
        key = key_of(params.message)
        if not self.honour_key or key is None or params.message.task_id:
            return await super().on_message_send(params, context)
        async with self.lock:
            known = self.tasks_by_key.get(key)
            if known is not None:
                task = await self.task_store.get(known, context)
                if task is not None:
                    return task
            answer = await super().on_message_send(params, context)
            if isinstance(answer, Task):
                self.tasks_by_key[key] = answer.id
            return answer


def app(port: int, executions: Path, honour_key: bool) -> Starlette:
    url = f"http://127.0.0.1:{port}"
    card = AgentCard(
        name="remote_fixer",
        description="A remote bug fixer that speaks only A2A.",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.JSONRPC,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            ),
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.HTTP_JSON,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            ),
        ],
        capabilities=AgentCapabilities(streaming=False),
        skills=[AgentSkill(id="fix", name="fix", description="Fixes a bug", tags=["bug"])],
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=["text/plain", "application/json"],
    )  # fmt: skip
    handler = KeyHonouringHandler(
        agent_executor=FixingAgent(executions),
        task_store=InMemoryTaskStore(),
        agent_card=card,
        honour_key=honour_key,
    )
    routes = [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(handler, rpc_url="/"),
        *create_rest_routes(handler),
    ]
    return Starlette(routes=routes)


if __name__ == "__main__":
    port, executions = int(sys.argv[1]), Path(sys.argv[2])
    honour = "--ignore-key" not in sys.argv[3:]
    uvicorn.run(app(port, executions, honour), host="127.0.0.1", port=port, log_level="warning")
