"""The OpenAI Agents SDK integration against a real ``handoff serve``, offline.

The agents' model is the SDK's own ``agents.testing.ScriptedModel`` (it implements the
SDK's ``Model`` interface): each step is what the model "says" on its next call, so a
run hands off exactly as scripted, with no key and no network. Tracing is disabled so
nothing tries to export.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, Runner, set_tracing_disabled
from agents.items import ToolCallOutputItem
from agents.testing import ScriptedModel, assistant_message, function_call
from conftest import CLI
from test_client import Server
from test_http import start_server, stop

from handoff_ledger.client import Job
from handoff_ledger.integrations.openai_agents import LedgerHooks, ledger_handoff

AGENTS = ["inbox_monitor", "triage", "code_agent", "support_agent", "ops_agent"]
REPORT = "Bug report from jane@company.com: login button not working on mobile"


@pytest.fixture(autouse=True)
def no_tracing() -> Iterator[None]:
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the file (each test reads only its own run's chain)."""
    folder = tmp_path_factory.mktemp("agents")
    cli = CLI(f"sqlite:///{folder}/ledger.db", folder)
    tokens = cli.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(cli)
    try:
        yield Server(url=url, tokens=tokens, cli=cli)
    finally:
        stop(process)


def team(model: ScriptedModel, coder_tools: list[Any] | None = None) -> Agent[Any]:
    """triage → code_agent → support_agent, all answering from one scripted model."""
    support = Agent(name="support_agent", instructions="Reply to the customer.", model=model)
    coder = Agent(
        name="code_agent",
        instructions="Fix the bug, then hand over to support.",
        handoffs=[support],
        tools=coder_tools or [],
        model=model,
    )
    return Agent(name="triage", instructions="Route reports.", handoffs=[coder], model=model)


def hooks_for(server: Server) -> LedgerHooks:
    return LedgerHooks(server.url, tokens=server.tokens, requested_by="inbox_monitor", eta="1h")


def log_of(server: Server) -> list[dict[str, Any]]:
    with server.client("human:me") as admin:
        return list(admin.iter_log())


def test_a_run_triage_code_support_leaves_three_handoffs_in_one_chain(server: Server) -> None:
    model = ScriptedModel(
        [
            [function_call("transfer_to_code_agent", {}, call_id="to-code")],
            [function_call("transfer_to_support_agent", {}, call_id="to-support")],
            [assistant_message("Replied to jane@company.com: fixed in today's release.")],
        ]
    )

    hooks = hooks_for(server)

    async def run() -> Any:
        async with hooks:
            return await Runner.run(team(model), REPORT, hooks=hooks)

    result = asyncio.run(run())
    assert result.last_agent.name == "support_agent"
    assert model.remaining_steps == 0

    assert hooks.chain_id is not None
    entries = [e for e in log_of(server) if e["chain_id"] == hooks.chain_id]
    assert len([e for e in entries if e["type"] == "Created"]) == 3
    with server.client("human:me") as admin:
        chain = admin.chain(hooks.chain_id)
    assert chain["broken"] is False
    handoffs = chain["handoffs"]
    assert [(h["sender"], h["receiver"], h["state"]) for h in handoffs] == [
        ("inbox_monitor", "triage", "completed"),
        ("triage", "code_agent", "completed"),
        ("code_agent", "support_agent", "completed"),
    ]
    with server.client("human:me") as admin:
        full = [admin.get(h["id"]) for h in handoffs]
    assert [h["parent_id"] for h in full] == [None, full[0]["id"], full[1]["id"]]
    assert full[0]["payload"] == {"input": REPORT}
    assert full[0]["result"] == {"handed_off_to": "code_agent"}
    assert full[1]["result"] == {"handed_off_to": "support_agent"}
    assert full[2]["result"] == {"output": result.final_output}
    for handoff in full:
        moves = [(e["type"], e["by"]) for e in entries if e["handoff_id"] == handoff["id"]]
        receiver = handoff["receiver"]
        assert moves == [
            ("Created", handoff["sender"]),
            ("Acked", receiver),
            ("Completed", receiver),
        ]
        acked = next(
            e for e in entries if e["handoff_id"] == handoff["id"] and e["type"] == "Acked"
        )
        assert acked["implicit"] is False
        assert acked["eta"] is not None  # the promise each ack makes (eta="1h")

    trace = server.cli.run("trace", full[2]["id"]).stdout
    for arrow in ("inbox_monitor → triage", "triage → code_agent", "code_agent → support_agent"):
        assert arrow in trace, trace
    assert [h["id"] for h in server.cli.json("trace", full[2]["id"])["handoffs"]] == [
        h["id"] for h in full
    ]


def test_a_run_that_raises_fails_the_handoff_of_the_agent_then_running(server: Server) -> None:
    model = ScriptedModel(
        [
            [function_call("transfer_to_code_agent", {}, call_id="to-code")],
            RuntimeError("the model's provider is down"),
        ]
    )

    hooks = hooks_for(server)

    async def run() -> None:
        async with hooks:
            await Runner.run(team(model), REPORT, hooks=hooks)

    with pytest.raises(RuntimeError, match="provider is down"):
        asyncio.run(run())
    assert hooks.chain_id is not None
    with server.client("human:me") as admin:
        chain = admin.chain(hooks.chain_id)["handoffs"]
        coder = admin.get(chain[1]["id"])
    assert [(h["receiver"], h["state"]) for h in chain] == [
        ("triage", "completed"),
        ("code_agent", "failed"),
    ]
    assert coder["reason"] == "RuntimeError: the model's provider is down"


def test_ledger_handoff_to_an_outside_agent_returns_its_ack_into_the_run(server: Server) -> None:
    """ops_agent is outside the run: its work loop takes the handoff (the ack) and the
    run's tool call answers with that ack; the handler finishes after the run ended."""
    release, stop_loop = threading.Event(), threading.Event()
    worked: list[dict[str, Any]] = []

    def deploy(job: Job) -> dict[str, Any]:
        worked.append(job.payload)
        assert release.wait(30), "the run never ended"
        return {"deployed": job.payload["build"]}

    def ops_loop() -> Counter[str]:
        with server.client("ops_agent") as ops:
            return ops.work(deploy, agent="ops_agent", worker="ops-1", eta="30m", stop=stop_loop)

    outcome: list[Counter[str]] = []
    loop = threading.Thread(target=lambda: outcome.append(ops_loop()))
    loop.start()
    try:
        hooks = hooks_for(server)
        ask_ops = ledger_handoff("ops_agent", hooks=hooks, priority="high", deadline="4h")
        model = ScriptedModel(
            [
                [function_call("transfer_to_code_agent", {}, call_id="to-code")],
                [
                    function_call(
                        "handoff_to_ops_agent",
                        {"trigger": "Fix merged: deploy it", "payload": {"build": "412"}},
                        call_id="call-ops-1",
                    )
                ],
                [assistant_message("Handed the deploy to ops_agent.")],
            ]
        )

        async def run() -> Any:
            async with hooks:
                return await Runner.run(team(model, [ask_ops]), REPORT, hooks=hooks)

        result = asyncio.run(run())
    finally:
        release.set()
        stop_loop.set()
        loop.join(30)
    assert outcome == [Counter({"completed": 1})]
    assert worked == [{"build": "412"}]

    [tool_output] = [item for item in result.new_items if isinstance(item, ToolCallOutputItem)
                     and item.raw_item.get("call_id") == "call-ops-1"]  # fmt: skip
    ack = json.loads(tool_output.output)
    assert ack["receiver"] == "ops_agent"
    assert ack["state"] == "acked"
    assert ack["queue_position"] == 1
    assert ack["eta"] is not None
    assert ack["next_update_due"] is not None
    # The model's next call read that ack as the tool's output.
    last_input = model.last_call.input if model.last_call else []
    assert any(
        isinstance(item, dict)
        and item.get("type") == "function_call_output"
        and json.loads(item["output"]) == ack
        for item in last_input
    ), last_input

    with server.client("human:me") as admin:
        ops = admin.get(ack["handoff_id"])
        chain = admin.chain(ops["id"])["handoffs"]
    assert (ops["sender"], ops["state"], ops["priority"]) == ("code_agent", "completed", "high")
    assert ops["result"] == {"deployed": "412"}
    assert ops["key"] == "agents-sdk:call-ops-1"
    # In the run's chain, a child of the handoff code_agent was working when it asked.
    assert ops["chain_id"] == hooks.chain_id
    parent = next(h for h in chain if h["id"] == ops["parent_id"])
    assert (parent["sender"], parent["receiver"]) == ("triage", "code_agent")
    assert [(h["receiver"], h["state"]) for h in chain] == [
        ("triage", "completed"),
        ("code_agent", "completed"),
        ("ops_agent", "completed"),
    ]
