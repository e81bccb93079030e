"""The LangGraph integration against a real ``handoff serve``, offline, plain-function nodes.

The restart tests run the graph in a process of its own (graph_process.py) with a
SQLite checkpointer, SIGKILL it, and start it again: the checkpointer holds the
thread, the ledger holds the handoff, and the handoff is sent and completed once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NotRequired

import pytest
from conftest import CLI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from test_client import Server
from test_http import start_server, stop

from handoff_ledger.client import Job
from handoff_ledger.integrations.langgraph import GraphLedger, LedgerState

GRAPH = Path(__file__).with_name("graph_process.py")
AGENTS = ["planner", "reviewer", "triage", "coder", "support"]
VERDICT = {"verdict": "approved", "comments": ["handles click too"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the file (each test reads only its own thread's handoffs)."""
    folder = tmp_path_factory.mktemp("graph")
    cli = CLI(f"sqlite:///{folder}/ledger.db", folder)
    tokens = cli.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(cli)
    try:
        yield Server(url=url, tokens=tokens, cli=cli)
    finally:
        stop(process)


def graph_process(
    server: Server, checkpoints: Path, thread: str, *flags: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(GRAPH), server.url, server.tokens["planner"], str(checkpoints),
         thread, *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def waiting_on(process: subprocess.Popen[str]) -> str:
    """The handoff the graph process says it is paused on (it blocks until it says so)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("waiting "), (line, process.stderr.read() if process.stderr else "")
    return line.split()[1]


def finished(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return json.loads(out.splitlines()[-1])


def review_work(server: Server) -> Counter[str]:
    """The reviewer, outside the graph, works its queue with the client's work loop."""

    def review(job: Job) -> dict[str, Any]:
        assert job.payload["diff"].startswith("- if (tap)")
        return VERDICT

    with server.client("reviewer") as reviewer:
        return reviewer.work(review, agent="reviewer", worker="reviewer-1", until_idle=0.3)


def moves(server: Server, key: str) -> list[tuple[str, str]]:
    """Every log entry of the handoffs sent with ``key``: (type, by)."""
    with server.client("human:me") as admin:
        entries = list(admin.iter_log())
    ids = {e["handoff_id"] for e in entries if e["type"] == "Created" and e.get("key") == key}
    assert len(ids) == 1, ids  # sent once, whatever the restarts
    return [(e["type"], e["by"]) for e in entries if e["handoff_id"] in ids]


def test_a_graph_killed_while_waiting_is_resumed_with_the_result_after_a_restart(
    server: Server, tmp_path: Path
) -> None:
    checkpoints, thread = tmp_path / "graph.db", "pr-412"
    first = graph_process(server, checkpoints, thread)
    handoff_id = waiting_on(first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL

    second = graph_process(server, checkpoints, thread)
    assert waiting_on(second) == handoff_id  # the same handoff: nothing sent again
    assert review_work(server) == Counter({"completed": 1})
    final = finished(second)

    assert final["review"] == {
        "id": handoff_id, "state": "completed", "result": VERDICT,
        "key": f"langgraph:{thread}:review:2",
    }  # fmt: skip
    assert final["prepared_by"] == f"planner pid {first.pid}"  # the thread went on, not over
    assert final["summary"].startswith("completed by reviewer")
    assert moves(server, f"langgraph:{thread}:review:2") == [
        ("Created", "planner"),
        ("Acked", "reviewer"),
        ("Completed", "reviewer"),
    ]


def test_a_graph_killed_between_sending_and_pausing_sends_nothing_again(
    server: Server, tmp_path: Path
) -> None:
    """SIGKILLed right after the send, before its pause was checkpointed: the restarted
    node runs again, and its send answers the first handoff, done meanwhile."""
    checkpoints, thread = tmp_path / "graph.db", "pr-413"
    first = graph_process(server, checkpoints, thread, "--die-after-send")
    out, _ = first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert out == ""  # it never got to pause
    assert review_work(server) == Counter({"completed": 1})

    final = finished(graph_process(server, checkpoints, thread))
    assert final["review"]["state"] == "completed"
    assert final["review"]["result"] == VERDICT
    assert final["prepared_by"] == f"planner pid {first.pid}"
    assert moves(server, f"langgraph:{thread}:review:2") == [
        ("Created", "planner"),
        ("Acked", "reviewer"),
        ("Completed", "reviewer"),
    ]


class Ticket(LedgerState):
    issue: str
    fix: NotRequired[str]
    reply: NotRequired[str]


def test_command_goto_between_nodes_is_recorded_as_one_chain(server: Server) -> None:
    ledger = GraphLedger(server.url, tokens=server.tokens)

    def triage(state: Ticket) -> Command[str]:
        return Command(goto="coder", update={"issue": state["issue"].strip()})

    def coder(state: Ticket) -> Command[str]:
        return Command(goto="support", update={"fix": "PR #412"})

    def support(state: Ticket) -> dict[str, Any]:
        if "crash" in state["issue"]:
            raise RuntimeError("no reply template for crashes")
        return {"reply": f"Fixed by {state['fix']}: please update the app."}

    builder = StateGraph(Ticket)
    builder.add_node("triage", ledger.node(triage), destinations=("coder",))
    builder.add_node("coder", ledger.node(coder), destinations=("support",))
    builder.add_node("support", ledger.node(support))
    builder.add_edge(START, "triage")
    builder.add_edge("support", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    try:
        final = graph.invoke(
            {"issue": " Login button not working on mobile "},
            {"configurable": {"thread_id": "ticket-1"}},
        )
        with pytest.raises(RuntimeError, match="no reply template"):
            graph.invoke({"issue": "App crash"}, {"configurable": {"thread_id": "ticket-2"}})
    finally:
        ledger.close()
    assert final["reply"] == "Fixed by PR #412: please update the app."
    assert final["ledger_handoff"] is None  # the last one was completed

    with server.client("human:me") as admin:
        entries = list(admin.iter_log())
        first = next(e for e in entries if e.get("key") == "langgraph:ticket-1:triage:1:coder")
        chain = admin.chain(first["handoff_id"])
        handoffs = [admin.get(h["id"]) for h in chain["handoffs"]]
        crashed = next(e for e in entries if e.get("key") == "langgraph:ticket-2:coder:2:support")
        failed = admin.get(crashed["handoff_id"])
    assert chain["broken"] is False
    assert [(h["sender"], h["receiver"], h["state"]) for h in handoffs] == [
        ("triage", "coder", "completed"),
        ("coder", "support", "completed"),
    ]
    assert handoffs[1]["parent_id"] == handoffs[0]["id"]
    assert handoffs[0]["payload"] == {"issue": "Login button not working on mobile"}
    assert handoffs[0]["result"] == {"handed_off_to": "support"}
    assert handoffs[1]["result"] == {"update": {"reply": final["reply"]}}
    for handoff in handoffs:
        assert [(e["type"], e["by"]) for e in entries if e["handoff_id"] == handoff["id"]] == [
            ("Created", handoff["sender"]),
            ("Acked", handoff["receiver"]),
            ("Completed", handoff["receiver"]),
        ]
    assert (failed["state"], failed["reason"]) == (
        "failed",
        "RuntimeError: no reply template for crashes",
    )
