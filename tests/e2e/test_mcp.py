"""The MCP server, driven by the official ``mcp`` client library.

Over stdio: the client spawns ``handoff mcp --agent NAME`` (one process per agent)
and runs a handoff through its lifecycle. Over streamable HTTP: the client talks to
``/mcp`` of a real ``handoff serve`` with a bearer token, and is refused without one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import CLI, HANDOFF, Shared, own_names, own_tokens
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.faces.http.bodies import (
    AckBody,
    CompleteBody,
    FailBody,
    NoteBody,
    ReasonBody,
    ReassignBody,
    ReplyBody,
    SendBody,
    StatusBody,
)

TOOLS = {
    "send_handoff", "ack_handoff", "report_status", "complete_handoff", "fail_handoff",
    "decline_handoff", "reply_to_handoff", "my_inbox", "get_handoff", "trace_chain", "read_log",
    "my_notifications", "wait_for_handoff", "cancel_handoff", "reassign_handoff", "add_note",
}  # fmt: skip
ARGUMENTS = {
    "send_handoff": set(SendBody.model_fields),
    "ack_handoff": {"id", *AckBody.model_fields},
    "report_status": {"id", *StatusBody.model_fields},
    "complete_handoff": {"id", *CompleteBody.model_fields},
    "fail_handoff": {"id", *FailBody.model_fields},
    "decline_handoff": {"id", *ReasonBody.model_fields},
    "reply_to_handoff": {"id", *ReplyBody.model_fields},
    "my_inbox": {"limit"},
    "get_handoff": {"id", "as_of"},
    "trace_chain": {"id", "as_of"},
    "read_log": {"since", "until", "limit", "hashes"},
    "my_notifications": {"since", "limit"},
    "wait_for_handoff": {"wait", "worker", "eta", "next_update"},
    "cancel_handoff": {"id", *ReasonBody.model_fields},
    "reassign_handoff": {"id", *ReassignBody.model_fields},
    "add_note": {"id", *NoteBody.model_fields},
}
REQUIRED = {
    "ack_handoff": ["id"],
    "report_status": ["id", "status"],
    "fail_handoff": ["id", "reason"],
    "decline_handoff": ["id", "reason"],
    "reply_to_handoff": ["id", "message"],
    "cancel_handoff": ["id", "reason"],
    "reassign_handoff": ["id", "reason", "to"],
    "add_note": ["id", "message"],
}


# ------------------------------------------------------------------ helpers


@asynccontextmanager
async def over_stdio(cli: CLI, agent: str, errlog: Path) -> AsyncIterator[Client]:
    """A client of ``handoff mcp --agent AGENT`` spawned on ``cli``'s store."""
    params = StdioServerParameters(
        command=HANDOFF, args=["mcp", "--agent", agent], env=cli.env(), cwd=cli.cwd
    )
    with errlog.open("a", encoding="utf-8") as log:
        async with Client(stdio_client(params, errlog=log)) as client:
            yield client
    assert "Traceback" not in errlog.read_text(encoding="utf-8")


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's document; the call must succeed."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    document: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == document  # type: ignore[union-attr]
    return document


async def refused(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's error (``{"code", "message", ...}``); the call must fail as a tool error."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    assert json.loads(text) == result.structured_content
    error: dict[str, Any] = result.structured_content["error"]
    return error


def check_tools(tools: list[Any]) -> None:
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == TOOLS
    for name, tool in by_name.items():
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert set(schema["properties"]) == ARGUMENTS[name], name
        assert schema.get("additionalProperties") is False, name
        assert sorted(schema.get("required", [])) == REQUIRED.get(
            name, ["id"] if "id" in ARGUMENTS[name] else []
        ), name
        assert len(tool.description or "") > 80, name
    for name in ("send_handoff", "ack_handoff", "report_status"):
        assert "1h30m" in by_name[name].description
        assert "ISO 8601" in by_name[name].description


# ------------------------------------------------------------------ stdio


def test_a_handoff_through_its_lifecycle_over_stdio(cli: CLI, tmp_path: Path) -> None:
    cli.run("init")  # `handoff mcp` serves an existing store; it never creates one
    errlog = tmp_path / "mcp.err"

    async def scenario() -> dict[str, Any]:
        async with (
            over_stdio(cli, "inbox_monitor", errlog) as inbox,
            over_stdio(cli, "code_agent", errlog) as coder,
        ):
            check_tools((await inbox.list_tools()).tools)

            sent = await call(
                inbox, "send_handoff", to="code_agent", trigger="Bug report detected",
                priority="medium", payload={"email_id": "msg_123", "customer": "jane@company.com"},
                ack_within="1h", deadline="4h", escalate_to=["human:me"], key="msg_123",
            )  # fmt: skip
            assert (sent["sender"], sent["receiver"], sent["state"]) == (
                "inbox_monitor", "code_agent", "requested",
            )  # fmt: skip
            assert sent["duplicate"] is False
            again = await call(inbox, "send_handoff", to="code_agent", key="msg_123")
            assert (again["id"], again["duplicate"]) == (sent["id"], True)
            hid = sent["id"]

            queue = await call(coder, "my_inbox")
            assert queue["agent"] == "code_agent"
            assert [h["id"] for h in queue["handoffs"]] == [hid]

            acked = await call(coder, "ack_handoff", id=hid, eta="2h", next_update="30m")
            assert (acked["state"], acked["queue_position"]) == ("acked", 1)
            assert acked["next_update_due"] is not None
            assert acked["already_acked"] is False
            assert (await call(coder, "ack_handoff", id=hid))["already_acked"] is True

            status = await call(
                coder, "report_status", id=hid, status="progress", message="Reproduced",
                next_update="1h30m",
            )  # fmt: skip
            assert (status["state"], status["status_message"]) == ("in_progress", "Reproduced")
            done = await call(coder, "complete_handoff", id=hid, result={"fix": "z-index"})
            assert (done["state"], done["result"]) == ("completed", {"fix": "z-index"})

            feed = await call(inbox, "my_notifications")
            assert feed["agent"] == "inbox_monitor"
            assert "Completed" in [n["type"] for n in feed["notifications"]]
            newer = await call(inbox, "my_notifications", since=feed["next"])
            assert newer["notifications"] == []

            chain = await call(coder, "trace_chain", id=hid)
            assert [h["id"] for h in chain["handoffs"]] == [hid]
            page = await call(inbox, "read_log", limit=2)
            rest = await call(inbox, "read_log", since=page["next"])
            assert [e["type"] for e in page["entries"] + rest["entries"]] == [
                "Created", "Acked", "StatusReported", "Completed",
            ]  # fmt: skip
            assert (await call(inbox, "read_log", since=rest["next"]))["entries"] == []
            return await call(inbox, "get_handoff", id=hid)

    shown = anyio.run(scenario)
    # The same document the CLI prints (and HTTP returns).
    assert shown == cli.json("show", shown["id"])
    assert [h["type"] for h in shown["history"]] == [
        "Created", "Acked", "StatusReported", "Completed",
    ]  # fmt: skip


def test_wait_for_handoff_takes_the_head_and_the_caller_completes_it(
    cli: CLI, tmp_path: Path
) -> None:
    cli.run("init")
    errlog = tmp_path / "mcp.err"

    async def scenario() -> None:
        async with (
            over_stdio(cli, "inbox_monitor", errlog) as inbox,
            over_stdio(cli, "code_agent", errlog) as coder,
        ):
            assert await call(coder, "wait_for_handoff") == {"taken": None}
            started = time.monotonic()
            assert await call(coder, "wait_for_handoff", wait="1s") == {"taken": None}
            assert time.monotonic() - started >= 0.9
            taken: dict[str, Any] = {}

            async def wait() -> None:
                taken.update(await call(coder, "wait_for_handoff", wait="20s", eta="1h"))

            started = time.monotonic()
            async with anyio.create_task_group() as group:  # work arriving ends the wait
                group.start_soon(wait)
                await anyio.sleep(0.5)
                high = await call(inbox, "send_handoff", to="code_agent", priority="high")
            assert time.monotonic() - started < 10
            low = await call(inbox, "send_handoff", to="code_agent", priority="low")
            assert (taken["id"], taken["taken"], taken["worker"]) == (high["id"], "taken", "mcp")
            assert (taken["state"], taken["timers"]["update_due"] is not None) == ("acked", True)
            again = await call(coder, "wait_for_handoff")  # its own unfinished work first
            assert (again["id"], again["taken"]) == (high["id"], "resumed")
            done = await call(coder, "complete_handoff", id=high["id"], result={"fix": "ok"})
            assert done["state"] == "completed"
            other = await call(coder, "wait_for_handoff", worker="w2", next_update="10m")
            assert (other["id"], other["taken"], other["worker"]) == (low["id"], "taken", "w2")
            await call(coder, "complete_handoff", id=low["id"], result={})

            error = await refused(coder, "wait_for_handoff", wait="31s")
            assert (error["code"], error["field"]) == ("invalid_input", "wait")
            error = await refused(coder, "wait_for_handoff", worker="two words")
            assert (error["code"], error["field"]) == ("invalid_input", "worker")

    anyio.run(scenario)
    acks = [e for e in cli.log() if e["type"] == "Acked"]
    assert [(a["by"], a["worker"]) for a in acks] == [
        ("code_agent", "mcp"), ("code_agent", "w2"),
    ]  # fmt: skip


def test_the_sender_cancels_and_reassigns_and_anyone_adds_a_note(cli: CLI, tmp_path: Path) -> None:
    cli.run("init")
    errlog = tmp_path / "mcp.err"

    async def scenario() -> None:
        async with (
            over_stdio(cli, "inbox_monitor", errlog) as inbox,
            over_stdio(cli, "code_agent", errlog) as coder,
        ):
            first = await call(inbox, "send_handoff", to="code_agent", trigger="one")
            second = await call(inbox, "send_handoff", to="code_agent", trigger="two")
            noted = await call(coder, "add_note", id=first["id"], message="seen it")
            assert noted["state"] == "requested"
            error = await refused(coder, "cancel_handoff", id=first["id"], reason="mine now")
            assert error["code"] == "not_permitted"
            error = await refused(coder, "reassign_handoff", id=first["id"], to="x", reason="r")
            assert error["code"] == "not_permitted"
            cancelled = await call(inbox, "cancel_handoff", id=first["id"], reason="solved")
            assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "solved")
            moved = await call(
                inbox, "reassign_handoff", id=second["id"], to="support_agent", reason="theirs"
            )
            assert (moved["receiver"], moved["state"]) == ("support_agent", "requested")
            error = await refused(inbox, "cancel_handoff", id=first["id"], reason="again")
            assert error["code"] == "invalid_state"
            error = await refused(inbox, "add_note", id=first["id"], message="")
            assert (error["code"], error["field"]) == ("invalid_input", "message")

    anyio.run(scenario)
    types = [(e["type"], e["by"]) for e in cli.log()]
    assert types[2:] == [
        ("NoteAdded", "code_agent"), ("Cancelled", "inbox_monitor"),
        ("Reassigned", "inbox_monitor"),
    ]  # fmt: skip


def test_errors_are_tool_errors_with_the_reason_and_write_nothing(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    cli = sqlite_cli
    errlog = tmp_path / "mcp.err"
    mine = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    theirs = cli.json("send", "--from", "inbox_monitor", "--to", "support_agent")["id"]
    before = cli.log()

    async def scenario() -> None:
        async with over_stdio(cli, "code_agent", errlog) as coder:
            error = await refused(coder, "complete_handoff", id=theirs, result={"fix": "x"})
            assert error["code"] == "not_permitted"
            assert "code_agent" in error["message"]
            assert "support_agent" in error["message"]

            error = await refused(coder, "ack_handoff", id=mine, next_update="soon")
            assert error == {
                "code": "invalid_input",
                "field": "next_update",
                "message": "next_update: 'soon' is not a duration "
                "(use 45s, 30m, 2h, 1h30m, 1d or ISO 8601 such as PT30M)",
            }
            error = await refused(coder, "ack_handoff", id=mine, ack_whithin="1h")
            assert (error["code"], error["field"]) == ("invalid_input", "ack_whithin")
            assert "unknown argument" in error["message"]
            error = await refused(coder, "report_status", id=mine)
            assert (error["field"], error["code"]) == ("status", "invalid_input")
            error = await refused(coder, "report_status", id=mine, status="sleepy")
            assert error["message"].startswith("status: 'sleepy' is not one of")
            error = await refused(coder, "decline_handoff", id="not-a-uuid", reason="no")
            assert error["message"] == (
                "id: 'not-a-uuid' is not a handoff id (a UUID, or its first 8 or more hex digits)"
            )
            unknown = "00000000-0000-4000-8000-000000000000"
            error = await refused(coder, "get_handoff", id=unknown)
            assert error["code"] == "unknown_handoff"

            await call(coder, "complete_handoff", id=mine)
            error = await refused(coder, "complete_handoff", id=mine)
            assert error["code"] == "invalid_state"
            with pytest.raises(MCPError, match="unknown tool"):
                await coder.call_tool("delete_handoff", {"id": mine})

    anyio.run(scenario)
    after = cli.log()
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["Acked", "Completed"]  # the one success


def test_need_help_is_answered_with_a_reply_and_a_dead_end_is_failed_over_stdio(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    cli = sqlite_cli
    errlog = tmp_path / "mcp.err"
    helped = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    closed = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    cli.json("cancel", closed, "--as", "inbox_monitor", "--reason", "sent twice")

    async def scenario() -> None:
        async with (
            over_stdio(cli, "inbox_monitor", errlog) as inbox,
            over_stdio(cli, "code_agent", errlog) as coder,
        ):
            tools = {tool.name: tool for tool in (await coder.list_tools()).tools}
            assert "decline_handoff" in (tools["fail_handoff"].description or "")
            assert "note" in (tools["reply_to_handoff"].description or "")
            blocked = await call(coder, "report_status", id=helped, status="need_help")
            assert blocked["state"] == "blocked"

            error = await refused(coder, "reply_to_handoff", id=helped, message="myself")
            assert error["code"] == "not_permitted"
            error = await refused(inbox, "reply_to_handoff", id=closed, message="late")
            assert error["code"] == "invalid_state"
            error = await refused(inbox, "reply_to_handoff", id=helped, message="")
            assert (error["code"], error["field"]) == ("invalid_input", "message")
            error = await refused(inbox, "fail_handoff", id=helped, reason="not mine to fail")
            assert error["code"] == "not_permitted"
            error = await refused(coder, "fail_handoff", id=helped)
            assert (error["code"], error["field"]) == ("invalid_input", "reason")

            replied = await call(
                inbox, "reply_to_handoff", id=helped, message="Use staging", data={"env": "stg"}
            )
            assert replied["state"] == "in_progress"
            failed = await call(
                coder, "fail_handoff", id=helped, reason="staging is down", result={"tried": 3}
            )
            assert (failed["state"], failed["result"]) == ("failed", {"tried": 3})

    anyio.run(scenario)
    history = [e["type"] for e in cli.log() if e["handoff_id"] == helped]
    assert history == ["Created", "Acked", "StatusReported", "Replied", "Failed"]  # refusals: none


def test_under_a_protocol_the_agent_must_be_declared(
    sqlite_cli: CLI, tmp_path: Path, write_file: Any
) -> None:
    cli = sqlite_cli
    cli.run("protocol", "apply", str(write_file("handoff.toml", SEED_PROTOCOL)))
    stranger = cli.run("mcp", "--agent", "stranger", expect=2)
    assert "agent: agent 'stranger' is not declared" in stranger.stderr
    cli.run("mcp", "--agent", " ", expect=2)
    before = cli.log()

    async def scenario() -> None:
        async with over_stdio(cli, "inbox_monitor", tmp_path / "mcp.err") as inbox:
            error = await refused(
                inbox, "send_handoff", kind="bug_report", payload={"email_id": "msg_1"}
            )
            assert error["code"] == "payload_invalid"
            # The payload object sent as JSON text, as some hosts do.
            sent = await call(
                inbox, "send_handoff", kind="bug_report", key="msg_2",
                payload='{"email_id": "msg_2", "customer": "a@b.c", "issue": "login"}',
            )  # fmt: skip
            assert (sent["receiver"], sent["kind"]) == ("code_agent", "bug_report")

    anyio.run(scenario)
    assert [e["type"] for e in cli.log()[len(before) :]] == ["Created"]


# ------------------------------------------------------------------ streamable HTTP


@dataclass
class Served:
    """The module's ``handoff serve`` (one per store), a token per agent (keyed by
    plain name), the test's own agent names and the store's head before the test."""

    url: str
    tokens: dict[str, str]
    names: dict[str, str]
    mark: int


@pytest.fixture
def served(module_server: Shared) -> Served:
    cli = module_server.cli
    names = own_names("inbox_monitor", "code_agent", "support_agent", "human:me")
    tokens = own_tokens(cli, names, admins=("human:me",))
    return Served(module_server.url, tokens, names, cli.mark())


@asynccontextmanager
async def over_http(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


def test_the_tools_over_streamable_http_act_as_the_tokens_agent(served: Served) -> None:
    url, tokens, names = served.url, served.tokens, served.names

    async def scenario() -> str:
        async with over_http(url, tokens["inbox_monitor"]) as inbox:
            check_tools((await inbox.list_tools()).tools)
            sent = await call(
                inbox, "send_handoff", to=names["code_agent"], payload={"email_id": "m"}
            )
            assert sent["sender"] == names["inbox_monitor"]  # the token's, never an argument
        async with over_http(url, tokens["code_agent"]) as coder:
            acked = await call(coder, "ack_handoff", id=sent["id"], next_update="30m")
            assert (acked["state"], acked["queue_position"]) == ("acked", 1)
            error = await refused(coder, "send_handoff", to="x", deadline="tomorrow")
            assert (error["code"], error["field"]) == ("invalid_input", "deadline")
        return str(sent["id"])

    hid = anyio.run(scenario)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {tokens['code_agent']}"}
    ) as api:
        shown = api.get(f"/handoffs/{hid}").json()
    assert (shown["state"], [h["type"] for h in shown["history"]]) == (
        "acked",
        ["Created", "Acked"],
    )


def test_streamable_http_refuses_a_missing_or_bad_token(served: Served) -> None:
    url, tokens = served.url, served.tokens
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer hl_not-a-token"}):
        answer = httpx.post(f"{url}/mcp", json=request, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthorized"

    async def without_token() -> None:
        async with over_http(url, None) as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup) as raised:
        anyio.run(without_token)
    leaves = _leaves(raised.value)
    assert leaves
    assert all(isinstance(e, MCPError) for e in leaves), leaves
    head = httpx.get(
        f"{url}/log",
        params={"since": served.mark},
        headers={"Authorization": f"Bearer {tokens['inbox_monitor']}"},
    )
    assert head.json()["entries"] == []  # nothing was written


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in _leaves(inner)]
    return [group]


def test_an_admin_token_cancels_and_reassigns_over_streamable_http_and_others_may_not(
    served: Served,
) -> None:
    url, tokens, names = served.url, served.tokens, served.names

    async def scenario() -> None:
        async with (
            over_http(url, tokens["inbox_monitor"]) as inbox,
            over_http(url, tokens["code_agent"]) as coder,
            over_http(url, tokens["human:me"]) as admin,
        ):
            one = await call(inbox, "send_handoff", to=names["code_agent"], trigger="one")
            two = await call(inbox, "send_handoff", to=names["code_agent"], trigger="two")
            error = await refused(coder, "cancel_handoff", id=one["id"], reason="not mine")
            assert error["code"] == "not_permitted"
            support = names["support_agent"]
            moved = await call(admin, "reassign_handoff", id=one["id"], to=support, reason="ops")
            assert (moved["receiver"], moved["state"]) == (support, "requested")
            cancelled = await call(admin, "cancel_handoff", id=two["id"], reason="duplicate")
            assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "duplicate")
            taken = await call(coder, "wait_for_handoff", wait="1s")
            assert taken == {"taken": None}  # its work was moved and cancelled

            # A waiting call holds a worker thread, not the server's event loop: a send on
            # the same server goes through meanwhile and ends the wait.
            got: dict[str, Any] = {}

            async def wait() -> None:
                got.update(await call(coder, "wait_for_handoff", wait="25s"))

            started = time.monotonic()
            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                await anyio.sleep(0.5)
                three = await call(inbox, "send_handoff", to=names["code_agent"], trigger="three")
            assert (got["id"], got["taken"]) == (three["id"], "taken")
            assert time.monotonic() - started < 10

    anyio.run(scenario)
