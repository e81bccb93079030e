"""The ledger inside a LangGraph graph (``pip install 'handoff-ledger[langgraph]'``).

Three pieces, on :class:`handoff_ledger.client.Client` (HTTP to ``handoff serve``):

* :meth:`GraphLedger.node` wraps a node so that the ``Command(goto=…)`` handoffs
  between nodes are ledger handoffs: each node acts as its own ledger agent, acks the
  handoff addressed to it when it starts, completes it when it hands on (or returns),
  fails it when it raises; the handoffs of one thread form one chain. The open handoff
  travels in the graph's state under ``ledger_handoff`` (add :class:`LedgerState` to
  the state schema).
* :func:`hand_off_and_wait`, called inside a node, hands work to an agent outside the
  graph and pauses the graph (``interrupt``) until that handoff has ended; the node
  answers with the ended handoff's document (``state``, ``result``).
* :func:`run_until_done` runs (or, in a restarted process, continues) a thread: it
  waits for the handoffs the thread is paused on and resumes it with their outcome.

With a checkpointer that outlives the process (``SqliteSaver``), a graph process that is
killed and started again continues where it was: the checkpointer holds the thread,
the ledger holds the handoff, and the handoff is sent once, because its idempotency
key is derived from the thread, the node and the step (a re-run node's send answers
the first handoff, as it now stands)::

    def review(state):
        done = hand_off_and_wait(ledger, to="reviewer", payload={"diff": state["diff"]})
        return {"verdict": done["result"]}

    graph = builder.compile(checkpointer=SqliteSaver(sqlite3.connect("graph.db")))
    final = run_until_done(graph, {"diff": "…"}, {"configurable": {"thread_id": "pr-412"}},
                           ledger=ledger)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, TypedDict

from handoff_ledger.client import Client, Conflict, Document
from handoff_ledger.integrations._extras import missing_extra

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.config import get_config
    from langgraph.errors import GraphBubbleUp
    from langgraph.pregel import Pregel
    from langgraph.types import Command, Durability, interrupt
except ImportError as error:  # pragma: no cover - exercised by tests/e2e/test_without_extras.py
    raise missing_extra("langgraph", "LangGraph", "langgraph", error) from error

__all__ = ["GraphLedger", "LedgerState", "hand_off_and_wait", "run_until_done"]

TERMINAL = frozenset({"completed", "failed", "declined", "cancelled"})
"""States in which a handoff takes no more commands."""
PAUSED_ON = "ledger_handoff"
"""The key of an interrupt's value (and of the state) naming a ledger handoff."""


class LedgerState(TypedDict, total=False):
    """Add to a graph's state schema for :meth:`GraphLedger.node`: the open handoff
    (``{"id", "receiver"}``) addressed to the node that runs next, if any."""

    ledger_handoff: dict[str, str] | None


def _json_or_none(value: Any) -> Any:
    """``value`` if it is plain JSON, else None (state may hold messages, models, …)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def _here() -> tuple[str, str, int]:
    """The running node's thread id, node name and step."""
    config = get_config()
    thread = config.get("configurable", {}).get("thread_id")
    metadata = config.get("metadata", {})
    if thread is None:
        raise RuntimeError("the ledger's LangGraph helpers need a thread_id in the config")
    return str(thread), str(metadata["langgraph_node"]), int(metadata["langgraph_step"])


def _ended(ledger: Client, call: Callable[[], Document], handoff_id: str) -> None:
    """Run ``call`` (complete, fail); a refusal because it already ended is no error.

    A node re-run after a crash repeats what it did before the crash.
    """
    try:
        call()
    except Conflict:
        if ledger.get(handoff_id)["state"] not in TERMINAL:
            raise


class GraphLedger:
    """The ledger for a graph's nodes, each acting as its own ledger agent.

    ``url`` is ``handoff serve``'s; ``tokens`` maps each ledger agent to its bearer token
    (``trial=True`` names agents without tokens on a ``serve --trial`` server); ``names``
    maps a node's name to its ledger agent where they differ.
    """

    def __init__(
        self,
        url: str,
        *,
        tokens: Mapping[str, str] | None = None,
        trial: bool = False,
        names: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._tokens = dict(tokens or {})
        self._trial = trial
        self._names = dict(names or {})
        self._timeout = timeout
        self._clients: dict[str, Client] = {}

    def agent(self, node: str) -> str:
        """The ledger agent a node acts as."""
        return self._names.get(node, node)

    def client(self, agent: str) -> Client:
        """The client acting as ledger agent ``agent`` (made on first use)."""
        if agent not in self._clients:
            token = self._tokens.get(agent)
            if token is None and not self._trial:
                raise LookupError(
                    f"GraphLedger: no token for ledger agent {agent!r}"
                    " (give tokens={...: ...}, or trial=True on a serve --trial server)"
                )
            self._clients[agent] = Client(
                self._url, token=token, agent=None if token else agent, timeout=self._timeout
            )
        return self._clients[agent]

    def close(self) -> None:
        """Close every client this object made."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def node(self, function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``function`` (a plain node taking the state) with its handoffs recorded."""

        def recorded(state: Any) -> Any:
            thread, node, step = _here()
            me = self.agent(node)
            ledger = self.client(me)
            open_ = state.get(PAUSED_ON) if isinstance(state, Mapping) else None
            mine = open_["id"] if open_ and open_.get("receiver") == me else None
            if mine is not None:
                # A repeat by the receiver is a no-op; a re-run after it ended has none.
                with suppress(Conflict):
                    ledger.ack(mine)
            try:
                out = function(state)
            except GraphBubbleUp:  # an interrupt, or a command for the parent graph
                raise
            except Exception as error:
                if mine is not None:
                    reason = f"{type(error).__name__}: {error}"[:4000]
                    _ended(ledger, lambda: ledger.fail(mine, reason), mine)
                raise
            return self._handed_on(out, ledger, me, mine, f"langgraph:{thread}:{node}:{step}")

        recorded.__name__ = getattr(function, "__name__", "node")
        recorded.__doc__ = function.__doc__
        return recorded

    def _handed_on(self, out: Any, ledger: Client, me: str, mine: str | None, key: str) -> Any:
        """Complete this node's handoff; a ``Command(goto=node)`` sends the next one."""
        if isinstance(out, Command) and isinstance(out.goto, str) and out.goto:
            target = self.agent(out.goto)
            update = out.update if isinstance(out.update, dict) else {}
            if mine is not None:
                result = {"handed_off_to": target}
                _ended(ledger, lambda: ledger.complete(mine, result=result), mine)
            payload = _json_or_none({k: v for k, v in update.items() if k != PAUSED_ON})
            sent = ledger.send(
                to=target,
                trigger=f"LangGraph handoff: {me} to {target}",
                payload=payload if isinstance(payload, dict) else None,
                parent_id=mine,
                key=f"{key}:{out.goto}",  # a re-run node sends nothing new
            )
            handed = {"id": sent["id"], "receiver": target}
            return Command(
                graph=out.graph,
                update={**update, PAUSED_ON: handed},
                resume=out.resume,
                goto=out.goto,
            )
        if mine is not None:
            result = _json_or_none(out if isinstance(out, dict) else None)
            done = {"update": result} if result is not None else None
            _ended(ledger, lambda: ledger.complete(mine, result=done), mine)
            if isinstance(out, dict):
                return {**out, PAUSED_ON: None}
            if out is None:
                return {PAUSED_ON: None}
        return out


def hand_off_and_wait(
    ledger: Client,
    *,
    to: str,
    kind: str | None = None,
    trigger: str | None = None,
    priority: str | None = None,
    payload: dict[str, Any] | None = None,
    ack_within: str | None = None,
    deadline: str | None = None,
    escalate_to: list[str] | None = None,
    parent_id: str | None = None,
    key: str | None = None,
) -> Document:
    """Inside a node: hand work to ``to``, outside the graph, and pause until it ended.

    Sends the handoff as ``ledger``'s agent with the idempotency key
    ``langgraph:{thread_id}:{node}:{step}`` (or ``key``: give one per call when a node
    hands off more than once), then pauses the graph with ``interrupt({"ledger_handoff":
    {...}})``. When the graph is resumed (:func:`run_until_done` does it once the
    handoff ended), the node runs again, its send answers the same handoff as it now
    stands, and this returns its document: ``state`` (``completed``, ``failed``,
    ``declined`` or ``cancelled``), ``result``, ``reason``.
    """
    thread, node, step = _here()
    handoff = ledger.send(
        to=to,
        kind=kind,
        trigger=trigger,
        priority=priority,
        payload=payload,
        ack_within=ack_within,
        deadline=deadline,
        escalate_to=escalate_to,
        parent_id=parent_id,
        key=key or f"langgraph:{thread}:{node}:{step}",
    )
    while handoff["state"] not in TERMINAL:
        # The resume value only wakes the node: the ledger says how the handoff ended.
        interrupt({PAUSED_ON: {"id": handoff["id"], "receiver": handoff["receiver"]}})
        handoff = ledger.get(handoff["id"])
    return handoff


def run_until_done(
    graph: Pregel[Any, Any, Any, Any],
    input: Any,
    config: RunnableConfig,
    *,
    ledger: Client,
    poll: float = 1.0,
    timeout: float | None = None,
    on_wait: Callable[[list[str]], None] | None = None,
    durability: Durability = "sync",
) -> Any:
    """Run the thread of ``config`` to its end, across the ledger handoffs it waits on.

    A new thread starts with ``input``; a thread already under way (this process, or
    one that was killed, left it in the checkpointer) continues and ``input`` is not
    used. While the thread is paused on ledger handoffs (:func:`hand_off_and_wait`),
    this calls ``on_wait(ids)`` and looks them up every ``poll`` seconds; once all
    ended, it resumes the thread. Answers the thread's final state values. Raises
    :class:`TimeoutError` after ``timeout`` seconds of waiting (the thread stays paused:
    call again to go on).

    ``durability`` is LangGraph's: ``"sync"`` (the default here, not LangGraph's
    ``"async"``) checkpoints each step before the next one starts, so a process killed
    mid-step loses only that step, which is run again on restart.
    """
    give_up = None if timeout is None else time.monotonic() + timeout
    snapshot = graph.get_state(config)
    if not snapshot.next and not snapshot.values:
        graph.invoke(input, config, durability=durability)
    while True:
        snapshot = graph.get_state(config)
        waiting = {
            pause.id: str(pause.value[PAUSED_ON]["id"])
            for pause in snapshot.interrupts
            if isinstance(pause.value, dict) and PAUSED_ON in pause.value
        }
        if not waiting:
            if not snapshot.next or snapshot.interrupts:
                return snapshot.values  # done, or paused on something else
            graph.invoke(
                None, config, durability=durability
            )  # a step cut short (the process died): run it again
            continue
        if on_wait is not None:
            on_wait(sorted(set(waiting.values())))
        wanted, ended = set(waiting.values()), dict[str, Document]()
        while True:
            for handoff_id in wanted - ended.keys():
                handoff = ledger.get(handoff_id)
                if handoff["state"] in TERMINAL:
                    ended[handoff_id] = handoff
            if ended.keys() == wanted:
                break
            if give_up is not None and time.monotonic() >= give_up:
                raise TimeoutError(f"handoffs still open: {sorted(wanted - ended.keys())}")
            time.sleep(poll)
        resume: Command[Any] = Command(resume={pause: ended[hid] for pause, hid in waiting.items()})
        graph.invoke(resume, config, durability=durability)
