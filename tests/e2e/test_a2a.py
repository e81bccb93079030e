"""The A2A face against a real ``handoff serve``, driven by the official ``a2a-sdk`` client.

The client resolves a card, sends messages and reads tasks; the receiver works
through the ledger's CLI (``handoff ack``, ``status``, ``complete``), as a real
agent would. On SQLite and PostgreSQL.

The tests share one ``handoff serve`` per store (conftest's ``module_server``): each
applies a protocol naming agents of its own (``own_names``), which the server reads
as it would any protocol applied by another process, and reads the log from its
mark; the trial server's test keeps a server of its own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from a2a.client import ClientCallContext, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import (
    ContentTypeNotSupportedError,
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from conftest import CLI, Shared, own_names, own_tokens, start_server, stop
from google.protobuf.json_format import MessageToDict, ParseDict
from test_http import AGENTS

EXTENSION = "urn:handoff-ledger:a2a:ledger:v1"
PROTOCOL_TEMPLATE = """
[agents."{inbox_monitor}"]
[agents."{code_agent}"]
[agents."{support_agent}"]
[agents."{human:me}"]
admin = true

[kinds.bug_report]
to = "{code_agent}"
trigger = "Bug report detected"
payload.required = ["email_id", "customer", "issue"]
"""
PLAIN = {agent: agent for agent in (*AGENTS, "human:me")}


def protocol_for(names: dict[str, str]) -> str:
    """The tests' protocol, its agents named as in ``names`` (plain name -> name)."""
    text = PROTOCOL_TEMPLATE
    for plain, name in names.items():
        text = text.replace(f"{{{plain}}}", name)
    return text


PROTOCOL = protocol_for(PLAIN)
BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


@dataclass
class Live:
    """A server, a token per agent (keyed by plain name) and, on the shared store,
    the test's own agent names and the head before the test began."""

    url: str
    tokens: dict[str, str]
    cli: CLI
    process: subprocess.Popen[str]
    names: dict[str, str] = field(default_factory=lambda: dict(PLAIN))
    mark: int = 0

    def name(self, agent: str) -> str:
        """``agent``'s name on the server: the test's own on the shared store."""
        return self.names[agent]

    def log(self) -> list[dict[str, Any]]:
        """The log since the test began."""
        return self.cli.log(since=self.mark)

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
            card = f"{self.url}/a2a/{quote(self.name(to), safe='')}"
            client = await ClientFactory(config).create_from_url(card)
            try:
                yield client
            finally:
                await client.close()


@contextmanager
def own_live(cli: CLI, tmp_path: Path) -> Iterator[Live]:
    """A server of its own on ``cli``'s store, under :data:`PROTOCOL` (for tests that
    restart it or change its protocol: test_a2a_push.py)."""
    cli.apply_protocol(PROTOCOL, source=str(tmp_path / "handoff.toml"))  # no process start
    tokens = cli.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(cli)
    try:
        yield Live(url=url, tokens=tokens, cli=cli, process=process)
    finally:
        if process.poll() is None:
            stop(process)


@pytest.fixture
def live(module_server: Shared, tmp_path: Path) -> Live:
    """The module's server (one per store) under a protocol of this test's agents."""
    cli = module_server.cli
    names = own_names(*AGENTS, "human:me")
    cli.apply_protocol(protocol_for(names), source=str(tmp_path / "handoff.toml"))
    tokens = own_tokens(cli, names, admins=("human:me",))
    live = Live(module_server.url, tokens, cli, module_server.process, names, mark=cli.mark())
    read_by_the_server(live)
    return live


def read_by_the_server(live: Live) -> None:
    """Wait until the server has read the test's protocol: its receiver's card, 404
    while undeclared, answers. (On PostgreSQL the news comes by NOTIFY, a moment
    after the commit; a test's first request must not race it.)"""
    card = f"{live.url}/a2a/{quote(live.name('code_agent'), safe='')}/.well-known/agent-card.json"
    for _ in range(300):
        answer = httpx.get(card, timeout=30)
        if answer.status_code == 200:
            return
        assert answer.status_code == 404, answer.text
        time.sleep(0.02)
    raise AssertionError(f"the server never read the test's protocol: {card} is 404")


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
    """``handoff ARGS --json``: the agent after ``--as`` or ``--to`` is named plainly
    (``code_agent``) and the command acts as the test's own (``live.name``)."""
    before = ("", *args[:-1])
    named = (
        live.name(a) if p in ("--as", "--to") else a for p, a in zip(before, args, strict=True)
    )
    return live.cli.json(*named)


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
            card = await anyone.get(
                f"{live.url}/a2a/{live.name('code_agent')}/.well-known/agent-card.json"
            )
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
        while not (inbox := await acting(live, "inbox", live.name("code_agent")))["handoffs"]:
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
    assert [e["type"] for e in live.log()].count("Created") == 3


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
    replied = [e for e in live.log() if e["type"] == "Replied"]
    assert len(replied) == 1
    assert (replied[0]["by"], replied[0]["message"]) == (live.name("inbox_monitor"), "An iPhone 12")
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


def test_bad_input_is_answered_with_a2a_errors_and_writes_nothing(live: Live) -> None:
    async def scenario() -> None:
        async with live.client("inbox_monitor") as client:
            with pytest.raises(InvalidParamsError) as failed:
                await last(client.send_message(request(message(data({"email_id": "x"})))))
            assert "payload" in failed.value.message
            file = Part(url="https://example.com/x.png", media_type="image/png")
            with pytest.raises(ContentTypeNotSupportedError):
                await last(client.send_message(request(message(file))))
            unknown_kind = message(data(BUG), ledger={"kind": "no_such_kind"})
            with pytest.raises(InvalidParamsError):
                await last(client.send_message(request(unknown_kind)))
            with pytest.raises(TaskNotFoundError):
                await client.get_task(GetTaskRequest(id=str(uuid.uuid4())))
            with pytest.raises(TaskNotFoundError):
                await client.get_task(GetTaskRequest(id="not-a-task"))
            deep: Any = "bottom"
            for _ in range(34):  # lists: protobuf's own depth limit is not reached first
                deep = [deep]
            with pytest.raises(InvalidParamsError):
                await last(client.send_message(request(message(data({**BUG, "x": deep})))))

    run(scenario())
    assert live.log() == []


def test_rest_binding_answers_errors_with_their_http_statuses(live: Live) -> None:
    headers = {"Authorization": f"Bearer {live.tokens['inbox_monitor']}", "A2A-Version": "1.0"}
    base = f"{live.url}/a2a/{live.name('code_agent')}"
    with httpx.Client(headers=headers, timeout=30) as http:
        missing = http.get(f"{base}/tasks/{uuid.uuid4()}")
        assert missing.status_code == 404, missing.text
        assert "Traceback" not in missing.text
        bad = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"data": {}}]}}
        invalid = http.post(f"{base}/message:send", json=bad)
        assert invalid.status_code == 400, invalid.text
        anonymous = httpx.post(f"{base}/message:send", json=bad)
        assert anonymous.status_code == 401
        revoked = {"Authorization": "Bearer hl_no_such_token", "A2A-Version": "1.0"}
        for url, body in ((f"{base}/message:send", bad), (base, {"jsonrpc": "2.0", "id": 1,
                          "method": "GetTask", "params": {"id": str(uuid.uuid4())}})):  # fmt: skip
            refused = httpx.post(url, json=body, headers=revoked)
            assert refused.status_code == 401, refused.text
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        surrogate = (
            b'{"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "\\ud800"}]}}'
        )
        lone = http.post(
            f"{base}/message:send", content=surrogate, headers={"Content-Type": "application/json"}
        )
        assert lone.status_code in (400, 422), lone.text
        huge = http.post(f"{base}/message:send", content=b"x" * (1_048_576 + 1))
        assert huge.status_code == 413
    assert live.log() == []


def test_list_tasks_pages_and_filters(live: Live) -> None:
    async def scenario() -> None:
        async with live.client("inbox_monitor") as mine, live.client("support_agent") as theirs:
            ids = []
            for n in range(5):
                sent = message(data(BUG), mid=f"m{n}")
                ids.append((await last(mine.send_message(request(sent, now=True)))).task.id)
            await last(theirs.send_message(request(message(data(BUG)), now=True)))
            await acting(live, "complete", ids[0], "--as", "code_agent")
            first = await mine.list_tasks(ListTasksRequest(page_size=3))
            assert first.total_size == 5  # only the caller's tasks
            rest = await mine.list_tasks(
                ListTasksRequest(page_size=3, page_token=first.next_page_token)
            )
            listed = [t.id for t in first.tasks] + [t.id for t in rest.tasks]
            assert listed[0] == ids[0]  # newest change first
            assert sorted(listed) == sorted(ids)
            assert not rest.next_page_token
            done = await mine.list_tasks(ListTasksRequest(status=COMPLETED))
            assert [t.id for t in done.tasks] == [ids[0]]
        async with live.client("code_agent") as receiver:
            everything = await receiver.list_tasks(ListTasksRequest())
            assert everything.total_size == 6  # the agent itself sees all its tasks

    run(scenario())


def test_a_resubscribing_client_resumes_from_its_last_position(live: Live) -> None:
    async def scenario() -> None:
        async with (
            live.client("inbox_monitor") as sender,
            live.client("inbox_monitor", streaming=True) as client,
        ):
            task = (await last(sender.send_message(request(message(data(BUG)), now=True)))).task
            await acting(live, "ack", task.id, "--as", "code_agent")  # position 2: seen
            await acting(live, "status", task.id, "--as", "code_agent", "--status", "progress")
            seen: list[StreamResponse] = []
            resume = ClientCallContext(service_parameters={"Last-Event-ID": "2"})
            async for update in client.subscribe(
                SubscribeToTaskRequest(id=task.id), context=resume
            ):
                seen.append(update)
                if len(seen) == 2:
                    await acting(live, "complete", task.id, "--as", "code_agent")
            assert seen[0].HasField("task")  # the snapshot first
            after = [
                ledger(u.status_update.metadata)["position"]
                for u in seen[1:]
                if u.HasField("status_update")
            ]
            assert after == [3, 4]  # the missed report, then the completion; closed there
            with pytest.raises(UnsupportedOperationError):
                await last(client.subscribe(SubscribeToTaskRequest(id=task.id)))
            full = await client.get_task(GetTaskRequest(id=task.id, history_length=100))
            assert len(full.history) == 4

    run(scenario())


def test_a_trial_server_takes_a_guest_without_a_token(cli: CLI) -> None:
    process, url = start_server(cli, "--trial")
    try:

        async def scenario() -> str:
            async with httpx.AsyncClient(timeout=30) as http:
                card = (await http.get(f"{url}/.well-known/agent-card.json")).json()
                assert "securityRequirements" not in card
                client = await ClientFactory(
                    ClientConfig(httpx_client=http, streaming=False)
                ).create_from_url(f"{url}/a2a/code_agent")
                sent = await last(client.send_message(request(message(text("try me")), now=True)))
                await client.close()
                return str(sent.task.id)

        task_id = run(scenario())
        assert handoff_of(cli, task_id)["sender"] == "guest"
    finally:
        stop(process)


def handoff_of(cli: CLI, task_id: str) -> Any:
    return cli.json("show", task_id)


def test_a_blocking_send_answered_over_the_same_servers_http_api(live: Live) -> None:
    """The ack and completion are saved by this server: the waiting send wakes at once."""
    key = "answered-here"

    async def receiver(http: httpx.AsyncClient, task_id: str) -> None:
        while (await http.post(f"{live.url}/handoffs/{task_id}/ack", json={})).status_code != 200:
            await asyncio.sleep(0.01)
        done = await http.post(f"{live.url}/handoffs/{task_id}/complete", json={"result": {}})
        assert done.status_code == 200, done.text

    async def scenario() -> StreamResponse:
        from handoff_ledger.domain.handoff import Handoff

        task_id = str(Handoff.id_for_key(live.name("inbox_monitor"), key))
        async with live.client("inbox_monitor") as client, live.http("code_agent") as http:
            sent = request(message(data(BUG), ledger={"key": key}))
            answer, _ = await asyncio.gather(
                last(client.send_message(sent)), receiver(http, task_id)
            )
            return answer

    assert run(scenario()).task.status.state == COMPLETED


def test_a_reassigned_task_keeps_its_id_and_is_submitted_again(live: Live) -> None:
    async def scenario() -> None:
        async with live.client("inbox_monitor") as client:
            task = (await last(client.send_message(request(message(data(BUG)), now=True)))).task
            await acting(live, "ack", task.id, "--as", "code_agent")
            await acting(live, "reassign", task.id, "--to", "support_agent",
                         "--as", "inbox_monitor", "--reason", "code_agent is away")  # fmt: skip
            moved = await client.get_task(GetTaskRequest(id=task.id))
            assert (moved.id, moved.status.state) == (task.id, SUBMITTED)
            assert ledger(moved.metadata)["receiver"] == live.name("support_agent")

    run(scenario())


def test_the_ledger_card_lists_every_agent_and_its_endpoint_takes_the_tenant(live: Live) -> None:
    with httpx.Client(timeout=30) as http:
        card = http.get(f"{live.url}/.well-known/agent-card.json").json()
        tenants = {i["tenant"] for i in card["supportedInterfaces"]}
        assert tenants == {live.name(a) for a in ("inbox_monitor", "code_agent", "support_agent",
                                                   "human:me")}  # fmt: skip
        assert {i["url"] for i in card["supportedInterfaces"]} == {f"{live.url}/a2a"}
        human = quote(live.name("human:me"), safe="")
        assert "%3A" in human
        encoded = http.get(f"{live.url}/a2a/{human}/.well-known/agent-card.json").json()
        assert encoded["supportedInterfaces"][0]["url"] == f"{live.url}/a2a/{human}"
        assert http.get(f"{live.url}/a2a/nobody/.well-known/agent-card.json").status_code == 404
        headers = {"Authorization": f"Bearer {live.tokens['inbox_monitor']}", "A2A-Version": "1.0"}
        sent = http.post(f"{live.url}/a2a", headers=headers, json={
            "jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
                "tenant": live.name("code_agent"), "configuration": {"returnImmediately": True},
                "message": {"messageId": "t1", "role": "ROLE_USER", "parts": [{"data": BUG}]}}})  # fmt: skip
        task = sent.json()["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert handoff(live, "show", task["id"])["receiver"] == live.name("code_agent")
