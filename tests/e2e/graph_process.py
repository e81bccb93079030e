"""A LangGraph graph in a process of its own (the tests SIGKILL it), as an agent runs one.

    python graph_process.py URL TOKEN CHECKPOINTS THREAD [--die-after-send]

The graph: ``prepare`` → ``review`` (hands the diff to ``reviewer``, an agent outside
the graph, and waits for it) → ``finish``. Its checkpoints are kept in the SQLite file
CHECKPOINTS. Prints ``waiting ID`` when the thread is paused on a handoff and the
final state as JSON at the end. ``--die-after-send`` SIGKILLs this process right after
the handoff was sent, before the graph could checkpoint its pause.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from typing import Any, NotRequired, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from handoff_ledger.client import Client
from handoff_ledger.integrations.langgraph import hand_off_and_wait, run_until_done


class Review(TypedDict):
    diff: str
    prepared_by: NotRequired[str]
    review: NotRequired[dict[str, Any]]
    summary: NotRequired[str]


class DyingClient(Client):
    """Dies (SIGKILL) once its first handoff is recorded: a crash between two writes."""

    def send(self, **fields: Any) -> dict[str, Any]:
        sent = super().send(**fields)
        os.kill(os.getpid(), signal.SIGKILL)
        return sent


def main() -> None:
    url, token, checkpoints, thread = sys.argv[1:5]
    die = "--die-after-send" in sys.argv
    ledger = (DyingClient if die else Client)(url, token=token, timeout=30)

    def prepare(state: Review) -> dict[str, Any]:
        return {"prepared_by": f"planner pid {os.getpid()}"}

    def review(state: Review) -> dict[str, Any]:
        done = hand_off_and_wait(
            ledger, to="reviewer", trigger="Review this diff", payload={"diff": state["diff"]}
        )
        return {"review": {k: done[k] for k in ("id", "state", "result", "key")}}

    def finish(state: Review) -> dict[str, Any]:
        return {"summary": f"{state['review']['state']} by reviewer: {state['review']['result']}"}

    builder = StateGraph(Review)
    builder.add_node("prepare", prepare)
    builder.add_node("review", review)
    builder.add_node("finish", finish)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "review")
    builder.add_edge("review", "finish")
    builder.add_edge("finish", END)
    connection = sqlite3.connect(checkpoints, check_same_thread=False)
    graph = builder.compile(checkpointer=SqliteSaver(connection))

    def waiting(ids: list[str]) -> None:
        print("waiting", *ids, flush=True)

    final = run_until_done(
        graph,
        {"diff": "- if (tap) {\n+ if (tap || click) {"},
        {"configurable": {"thread_id": thread}},
        ledger=ledger,
        poll=0.05,
        on_wait=waiting,
    )
    print(json.dumps(final), flush=True)


if __name__ == "__main__":
    main()
