"""The A2A face against a real ``handoff serve``, driven by the official ``a2a-sdk`` client.

The client resolves a card, sends messages and reads tasks; the receiver works
through the ledger's CLI (``handoff ack``, ``status``, ``complete``), as a real
agent would. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotCancelableError, UnsupportedOperationError
from conftest import CLI
from google.protobuf.json_format import MessageToDict, ParseDict
from test_http import AGENTS, start_server, stop

EXTENSION = "urn:handoff-ledger:a2a:ledger:v1"
PROTOCOL = """
[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents."human:me"]
admin = true

[kinds.bug_report]
to = "code_agent"
trigger = "Bug report detected"
payload.required = ["email_id", "customer", "issue"]
"""
BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


@dataclass
class Live:
    url: str
    tokens: dict[str, str]
    cli: CLI
    process: subprocess.Popen[str]

    def http(self, agent: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
        return httpx.AsyncClient(headers=headers, timeout=30)

    @asynccontextmanager
    async def client(
        self,
        agent: str,
        *,
        binding: str = TransportProtocol.JSONRPC,
        streaming: bool = False,
        to: str = "code_agent",
    ) -> AsyncIterator[Any]:
        """The official client, from ``to``'s card, acting as ``agent``'s token."""
        async with self.http(agent) as http:
            config = ClientConfig(
                httpx_client=http, supported_protocol_bindings=[binding], streaming=streaming
            )
            client = await ClientFactory(config).create_from_url(f"{self.url}/a2a/{to}")
            try:
                yield client
            finally:
                await client.close()


@pytest.fixture
def live(cli: CLI, tmp_path: Any) -> Iterator[Live]:
    protocol = tmp_path / "handoff.toml"
    protocol.write_text(PROTOCOL)
    cli.run("protocol", "apply", str(protocol))
    tokens = cli.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(cli)
    try:
        yield Live(url=url, tokens=tokens, cli=cli, process=process)
    finally:
        if process.poll() is None:
            stop(process)


def message(
    *parts: Part, task_id: str = "", ledger: dict[str, Any] | None = None, mid: str = "m1"
) -> Message:
    sent = Message(message_id=mid, role=Role.ROLE_USER, parts=list(parts), task_id=task_id)
    if ledger is not None:
        sent.metadata.update({EXTENSION: ledger})
    return sent


def data(value: dict[str, Any]) -> Part:
    return ParseDict({"data": value, "mediaType": "application/json"}, Part())


def text(value: str) -> Part:
    return Part(text=value)


def request(sent: Message, *, now: bool = False) -> SendMessageRequest:
    return SendMessageRequest(
        message=sent, configuration=SendMessageConfiguration(return_immediately=now)
    )


async def last(stream: AsyncIterator[StreamResponse]) -> StreamResponse:
    answers = [answer async for answer in stream]
    assert answers
    return answers[-1]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def handoff(live: Live, *args: str) -> Any:
    return live.cli.json(*args)


async def acting(live: Live, *args: str) -> Any:
    """A ``handoff`` command (the receiver at work), off the event loop."""
    return await asyncio.to_thread(handoff, live, *args)


def ledger(part: Any) -> dict[str, Any]:
    return dict(MessageToDict(part)[EXTENSION])


def states(updates: list[StreamResponse]) -> list[int]:
    """The task's state at each update: a task, a status update (artifacts skipped)."""
    seen = []
    for update in updates:
        if update.HasField("task"):
            seen.append(update.task.status.state)
        elif update.HasField("status_update"):
            seen.append(update.status_update.status.state)
    return seen


SUBMITTED, WORKING, COMPLETED = (
    TaskState.TASK_STATE_SUBMITTED,
    TaskState.TASK_STATE_WORKING,
    TaskState.TASK_STATE_COMPLETED,
)
INPUT_REQUIRED, CANCELED = TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_CANCELED


def test_card_then_submitted_working_completed(live: Live) -> None:
    async def scenario() -> None:
        async with live.client("inbox_monitor") as client, httpx.AsyncClient() as anyone:
            card = await anyone.get(f"{live.url}/a2a/code_agent/.well-known/agent-card.json")
            assert [s["id"] for s in card.json()["skills"]] == ["bug_report"]
            sent = message(text("Bug report"), data(BUG))
            task = (await last(client.send_message(request(sent, now=True)))).task
            assert task.status.state == SUBMITTED
            await acting(live, "ack", task.id, "--as", "code_agent", "--eta", "2h")
            got = await client.get_task(GetTaskRequest(id=task.id))
            assert got.status.state == WORKING
            assert ledger(got.metadata)["eta"]
            fix = json.dumps({"fix": "css"})
            await acting(live, "complete", task.id, "--as", "code_agent", "--result", fix)
            done = await client.get_task(GetTaskRequest(id=task.id, history_length=10))
            assert done.status.state == COMPLETED
            assert MessageToDict(done.artifacts[0])["parts"][0]["data"] == {"fix": "css"}
            kept = MessageToDict(done.history[0])  # the message exactly as it was sent
            assert (kept["messageId"], kept["parts"][1]["data"]) == ("m1", BUG)
            assert [ledger(m.metadata)["event"] for m in done.history] == [
                "Created",
                "Acked",
                "Completed",
            ]
        shown = handoff(live, "show", task.id)  # what the receiver sees
        assert (shown["kind"], shown["payload"], shown["trigger"]) == (
            "bug_report",
            BUG,
            "Bug report",
        )
        assert shown["history"][0]["as_sent"]["messageId"] == "m1"

    run(scenario())


def test_a_blocking_send_returns_once_the_receiver_completes(live: Live) -> None:
    async def receiver() -> None:
        while not (inbox := await acting(live, "inbox", "code_agent"))["handoffs"]:
            await asyncio.sleep(0.05)
        task_id = inbox["handoffs"][0]["id"]
        await acting(live, "ack", task_id, "--as", "code_agent")
        await acting(live, "complete", task_id, "--as", "code_agent", "--result", '{"ok": true}')

    async def scenario() -> None:
        async with live.client("inbox_monitor") as client:
            sent = request(message(text("Bug report"), data(BUG)))
            answer, _ = await asyncio.gather(last(client.send_message(sent)), receiver())
        assert answer.task.status.state == COMPLETED
        assert MessageToDict(answer.task.artifacts[0])["parts"][0]["data"] == {"ok": True}

    run(scenario())


@pytest.mark.parametrize("binding", [TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON])
def test_streaming_sees_submitted_working_completed(live: Live, binding: str) -> None:
    async def scenario() -> list[StreamResponse]:
        updates: list[StreamResponse] = []
        async with live.client("inbox_monitor", binding=binding, streaming=True) as client:
            async for update in client.send_message(request(message(data(BUG)))):
                updates.append(update)
                if len(updates) == 1:
                    await acting(live, "ack", update.task.id, "--as", "code_agent")
                elif update.HasField("status_update") and len(updates) == 2:
                    task_id = update.status_update.task_id
                    await acting(live, "status", task_id, "--as", "code_agent",
                                 "--status", "progress", "--message", "half way")  # fmt: skip
                    await acting(live, "complete", task_id, "--as", "code_agent")
        return updates

    updates = run(scenario())
    assert states(updates) == [SUBMITTED, WORKING, WORKING, COMPLETED]
    positions = [ledger(u.status_update.metadata)["position"] for u in updates[1:]]
    assert positions == [2, 3, 4]  # the handoff's versions: where a client resumes from


def test_the_same_key_makes_one_task_the_same_message_id_two(live: Live) -> None:
    async def scenario() -> list[str]:
        async with live.client("inbox_monitor") as client:
            ids = []
            for keyed in ({"key": "msg_123"}, {"key": "msg_123"}, None, None):
                sent = message(data(BUG), ledger=keyed, mid="same")
                ids.append((await last(client.send_message(request(sent, now=True)))).task.id)
            return ids

    first, again, plain, plain_again = run(scenario())
    assert first == again
    assert len({first, plain, plain_again}) == 3
    assert [e["type"] for e in live.cli.log()].count("Created") == 3


def test_input_required_answered_on_the_task_then_completed(live: Live) -> None:
    async def scenario() -> None:
        async with live.client("inbox_monitor") as client:
            task = (await last(client.send_message(request(message(data(BUG)), now=True)))).task
            await acting(live, "status", task.id, "--as", "code_agent", "--status",
                         "need_help", "--message", "Which phone?")  # fmt: skip
            asked = await client.get_task(GetTaskRequest(id=task.id))
            assert asked.status.state == INPUT_REQUIRED
            assert "Which phone?" in MessageToDict(asked.status.message)["parts"][0]["text"]
            answer = message(text("An iPhone 12"), data({"device": "iphone"}), mid="a1")
            answer.task_id = task.id
            replied = (await last(client.send_message(request(answer, now=True)))).task
            assert replied.status.state == WORKING
            await acting(live, "complete", task.id, "--as", "code_agent", "--result",
                         '{"fix": "viewport"}')  # fmt: skip
            done = await client.get_task(GetTaskRequest(id=task.id))
            assert done.status.state == COMPLETED
            assert MessageToDict(done.artifacts[0])["parts"][0]["data"] == {"fix": "viewport"}
            with pytest.raises(UnsupportedOperationError):
                await last(client.send_message(request(answer, now=True)))

    run(scenario())
    replied = [e for e in live.cli.log() if e["type"] == "Replied"]
    assert len(replied) == 1
    assert (replied[0]["by"], replied[0]["message"]) == ("inbox_monitor", "An iPhone 12")
    assert replied[0]["data"] == {"device": "iphone"}
    assert replied[0]["as_sent"]["messageId"] == "a1"


def test_cancel_by_the_sender_but_not_by_anyone_else(live: Live) -> None:
    async def scenario() -> str:
        async with live.client("inbox_monitor") as sender, live.client("support_agent") as other:
            task = (await last(sender.send_message(request(message(data(BUG)), now=True)))).task
            with pytest.raises(TaskNotCancelableError):
                await other.cancel_task(CancelTaskRequest(id=task.id))
            cancelled = await sender.cancel_task(CancelTaskRequest(id=task.id))
            assert cancelled.status.state == CANCELED
            with pytest.raises(TaskNotCancelableError):
                await sender.cancel_task(CancelTaskRequest(id=task.id))
            return str(task.id)

    task_id = run(scenario())
    assert handoff(live, "show", task_id)["state"] == "cancelled"
