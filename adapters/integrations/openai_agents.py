"""The ledger inside an OpenAI Agents SDK run (``pip install 'handoff-ledger[openai-agents]'``).

Two pieces, both on :class:`handoff_ledger.client.AsyncClient` (HTTP to ``handoff serve``):

* :class:`LedgerHooks`, the run's ``hooks=``: every SDK handoff between the run's agents
  becomes a ledger handoff, one chain per run (each names the one before as its parent),
  acked when its target agent starts and completed when that agent hands off in turn or
  gives the final output; failed when the run raises. Each SDK agent acts as the ledger
  agent of the same name (or ``names[sdk_name]``), with a token of its own.
* :func:`ledger_handoff`, a tool for an agent whose receiver lives outside the run:
  calling it sends a real ledger handoff and answers the ack (queue position, ETA, next
  update) as the tool's result; the receiver works it with ``handoff work`` or the
  client's ``work()``.

::

    hooks = LedgerHooks(API, tokens=TOKENS, requested_by="inbox_monitor")
    triage = Agent(name="triage", handoffs=[coder],
                   tools=[ledger_handoff("ops_agent", hooks=hooks, kind="deploy")])
    async with hooks:                     # closes its clients; fails the open handoff on error
        result = await Runner.run(triage, "Login button broken on mobile", hooks=hooks)

A :class:`LedgerHooks` follows one run at a time: give concurrent runs one each.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from handoff_ledger.client import AsyncClient, Document, HandoffLedgerError
from handoff_ledger.integrations._extras import missing_extra

try:
    from agents import Agent, AgentBase, FunctionTool, RunContextWrapper, RunHooks
    from agents.run_context import AgentHookContext
    from agents.tool_context import ToolContext
except ImportError as error:  # pragma: no cover - exercised by tests/e2e/test_without_extras.py
    raise missing_extra("openai_agents", "the OpenAI Agents SDK", "openai-agents", error) from error

__all__ = ["LedgerHooks", "ledger_handoff"]

TERMINAL = frozenset({"completed", "failed", "declined", "cancelled"})
"""States in which a handoff takes no more commands."""
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def jsonable(value: Any) -> Any:
    """An agent's output as a JSON value: a pydantic model's dump, else itself, else text."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return str(value)


class LedgerHooks(RunHooks[Any]):
    """``RunHooks`` that record a run's SDK handoffs in the ledger, one chain per run.

    ``url`` is ``handoff serve``'s; ``tokens`` maps each ledger agent to its bearer token
    (on a ``serve --trial`` server, ``trial=True`` names agents without tokens).
    ``names`` maps an SDK agent's name to its ledger agent where they differ.

    ``requested_by`` starts each run with a handoff from that agent to the run's first
    agent (``kind``, ``payload``: default ``{"input": <the run's input text>}``), so the
    first agent's work is acked and completed too; ``parent_id`` hangs the run's chain
    under an existing handoff instead (the one a work loop's handler is working, say).
    ``eta`` and ``next_update`` are the promises each ack makes.
    """

    def __init__(
        self,
        url: str,
        *,
        tokens: Mapping[str, str] | None = None,
        trial: bool = False,
        names: Mapping[str, str] | None = None,
        requested_by: str | None = None,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
        parent_id: str | None = None,
        eta: str | None = None,
        next_update: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._tokens = dict(tokens or {})
        self._trial = trial
        self._names = dict(names or {})
        self._requested_by = requested_by
        self._kind = kind
        self._payload = payload
        self._parent_id = parent_id
        self._eta = eta
        self._next_update = next_update
        self._timeout = timeout
        self._clients: dict[str, AsyncClient] = {}
        self._current: Document | None = None
        """The open handoff addressed to the agent now running, if any."""
        self.chain_id: str | None = None
        """The chain of the latest run (set by its first handoff): ``handoff trace`` it."""

    # ------------------------------------------------------------ the ledger side

    def ledger_name(self, agent: AgentBase[Any]) -> str:
        """The ledger agent an SDK agent acts as."""
        return self._names.get(agent.name, agent.name)

    def client(self, ledger_agent: str) -> AsyncClient:
        """The client acting as ``ledger_agent`` (made on first use, on the running loop)."""
        if ledger_agent not in self._clients:
            token = self._tokens.get(ledger_agent)
            if token is None and not self._trial:
                raise LookupError(
                    f"LedgerHooks: no token for ledger agent {ledger_agent!r}"
                    " (give tokens={...: ...}, or trial=True on a serve --trial server)"
                )
            self._clients[ledger_agent] = AsyncClient(
                self._url,
                token=token,
                agent=None if token else ledger_agent,
                timeout=self._timeout,
            )
        return self._clients[ledger_agent]

    def open_handoff(self, ledger_agent: str) -> str | None:
        """The id of the run's open handoff addressed to ``ledger_agent``, if any."""
        if self._current is not None and self._current["receiver"] == ledger_agent:
            return str(self._current["id"])
        return None

    async def fail(self, reason: str) -> None:
        """Fail the run's open handoff (as its receiver): the run could not finish it."""
        current, self._current = self._current, None
        if current is not None:
            await self.client(current["receiver"]).fail(current["id"], reason)

    async def aclose(self) -> None:
        """Close every client this object made."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> LedgerHooks:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if error is not None and self._current is not None:
                await self.fail(f"{type(error).__name__}: {error}"[:4000])
        finally:
            await self.aclose()

    # ------------------------------------------------------------ the SDK's hooks

    async def on_agent_start(self, context: AgentHookContext[Any], agent: Agent[Any]) -> None:
        """The first agent gets the run's handoff (``requested_by``); a target acks its own."""
        me = self.ledger_name(agent)
        if self._current is None and self._requested_by is not None:
            payload = self._payload if self._payload is not None else _input_of(context)
            self._current = await self.client(self._requested_by).send(
                to=me,
                kind=self._kind,
                trigger=f"Agents SDK run started with {agent.name}",
                payload=payload,
                parent_id=self._parent_id,
            )
            self.chain_id = self._current["chain_id"]
        if self.open_handoff(me) is not None and self._current is not None:
            await self.client(me).ack(
                self._current["id"], eta=self._eta, next_update=self._next_update
            )

    async def on_handoff(
        self, context: RunContextWrapper[Any], from_agent: Agent[Any], to_agent: Agent[Any]
    ) -> None:
        """The source's handoff is done (it handed on); a new one goes to the target."""
        source, target = self.ledger_name(from_agent), self.ledger_name(to_agent)
        parent = self.open_handoff(source)
        first = self._current is None
        if parent is not None:
            await self.client(source).complete(parent, result={"handed_off_to": target})
        self._current = await self.client(source).send(
            to=target,
            trigger=f"Agents SDK handoff: {from_agent.name} to {to_agent.name}",
            parent_id=parent or (self._parent_id if first else None),
        )
        if first:
            self.chain_id = self._current["chain_id"]

    async def on_agent_end(
        self, context: AgentHookContext[Any], agent: Agent[Any], output: Any
    ) -> None:
        """The agent gave the run's final output: its handoff is completed with it."""
        me = self.ledger_name(agent)
        mine = self.open_handoff(me)
        self._current = None
        if mine is not None:
            await self.client(me).complete(mine, result={"output": jsonable(output)})


def _input_of(context: AgentHookContext[Any]) -> dict[str, Any]:
    """The run's input text (its last user message) as the first handoff's payload."""
    texts = [
        item.get("content")
        for item in context.turn_input
        if isinstance(item, dict) and item.get("role") == "user"
    ]
    return {"input": jsonable(texts[-1])} if texts else {}


def ledger_handoff(
    agent_name: str,
    *,
    hooks: LedgerHooks,
    kind: str | None = None,
    priority: str | None = None,
    ack_within: str | None = None,
    deadline: str | None = None,
    escalate_to: list[str] | None = None,
    wait_for_ack: float = 10.0,
    tool_name: str | None = None,
    description: str | None = None,
) -> FunctionTool:
    """A tool handing work to ``agent_name``, a ledger agent outside this run.

    The model calls it with a ``trigger`` (why) and a ``payload``; the calling SDK agent
    sends the handoff as its ledger agent (with ``hooks``' token for it), as a child of
    its own open handoff in the run, keyed by the tool call's id (a retried call sends
    nothing new). The tool then waits up to ``wait_for_ack`` seconds for the receiver to
    ack (its work loop taking it), and answers a JSON document: ``handoff_id``,
    ``receiver``, ``state``, ``queue_position``, ``eta``, ``next_update_due``,
    ``ack_due``, ``deadline`` (and ``result`` if it is already done). A refusal (a
    payload the kind's schema refuses, say) is answered as ``{"error": ...}`` for the
    model to read.
    """
    name = tool_name or _TOOL_NAME.sub("_", f"handoff_to_{agent_name}")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "trigger": {"type": "string", "description": "Why this work is handed off."},
            "payload": {"type": "object", "description": "What the receiver needs (JSON)."},
            "priority": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        },
        "required": ["trigger", "payload"],
        "additionalProperties": False,
    }

    async def invoke(context: ToolContext[Any], arguments: str) -> str:
        given = json.loads(arguments or "{}")
        if context.agent is None:  # the SDK passes it for every function tool call
            raise RuntimeError(f"{name}: the SDK gave no calling agent")
        sender = hooks.ledger_name(context.agent)
        ledger = hooks.client(sender)
        try:
            sent = await ledger.send(
                to=agent_name,
                kind=kind,
                trigger=given.get("trigger"),
                priority=given.get("priority") or priority,
                payload=given.get("payload") or {},
                ack_within=ack_within,
                deadline=deadline,
                escalate_to=escalate_to,
                key=f"agents-sdk:{context.tool_call_id}",
                parent_id=hooks.open_handoff(sender),
            )
            return json.dumps(await _acked(ledger, sent, wait_for_ack))
        except HandoffLedgerError as error:
            return json.dumps({"error": {"code": error.code, "message": error.message}})

    return FunctionTool(
        name=name,
        description=description
        or (
            f"Hand work to {agent_name} (outside this run) through the handoff ledger."
            " Answers its ack: queue position, ETA and when its next update is due."
        ),
        params_json_schema=schema,
        on_invoke_tool=invoke,
        strict_json_schema=False,  # the payload is a free JSON object
    )


async def _acked(ledger: AsyncClient, sent: Document, wait: float) -> dict[str, Any]:
    """What the receiver promised, once it acked (or as it stands after ``wait`` s)."""
    handoff, pause = sent, 0.05
    give_up = time.monotonic() + wait
    while handoff["state"] == "requested" and time.monotonic() < give_up:
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
        handoff = await ledger.get(sent["id"])
    position = None
    if handoff["state"] not in TERMINAL:
        queue = await ledger.inbox(handoff["receiver"], limit=0)
        position = next(
            (h.get("queue_position") for h in queue["handoffs"] if h["id"] == handoff["id"]),
            None,
        )
    answer = {
        "handoff_id": handoff["id"],
        "receiver": handoff["receiver"],
        "state": handoff["state"],
        "queue_position": position,
        "eta": handoff["eta"],
        "next_update_due": handoff["timers"]["update_due"],
        "ack_due": handoff["timers"]["ack_due"],
        "deadline": handoff["deadline"],
    }
    if handoff["state"] in TERMINAL:
        answer["result"] = handoff["result"]
    return answer
