"""The Python client (``handoff_ledger.client``) against a real ``handoff serve``."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from conftest import CLI, Shared, own_names, own_tokens, start_server, stop

from handoff_ledger.client import (
    AsyncClient,
    Client,
    Conflict,
    Forbidden,
    HandoffLedgerError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)

AGENTS = ["inbox_monitor", "code_agent", "support_agent"]
BUG = {
    "to": "code_agent",
    "kind": "bug_report",
    "trigger": "Bug report detected",
    "priority": "medium",
    "payload": {
        "email_id": "msg_123",
        "customer": "jane@company.com",
        "issue": "Login button not working on mobile",
    },
    "ack_within": "1h",
    "deadline": "4h",
    "escalate_to": ["human:me"],
}


@dataclass
class Server:
    """A server, a token per agent (keyed by plain name) and, on a shared store, the
    test's own agent names (:func:`own_names`) and the head before the test began."""

    url: str
    tokens: dict[str, str]
    cli: CLI
    names: dict[str, str] = field(default_factory=dict)
    mark: int = 0

    def name(self, agent: str) -> str:
        """``agent``'s name on the server: the test's own on a shared store."""
        return self.names.get(agent, agent)

    def client(self, agent: str | None) -> Client:
        return Client(self.url, token=self.tokens[agent] if agent else None, timeout=30)

    def aclient(self, agent: str) -> AsyncClient:
        return AsyncClient(self.url, token=self.tokens[agent], timeout=30)

    def log_types(self) -> list[str]:
        with self.client("human:me") as admin:
            return [entry["type"] for entry in admin.iter_log(since=self.mark)]


@pytest.fixture
def server(module_server: Shared) -> Server:
    """The module's server (one per store), with this test's own agents and tokens."""
    cli = module_server.cli
    names = own_names(*AGENTS, "human:me")
    tokens = own_tokens(cli, names, admins=("human:me",))
    return Server(module_server.url, tokens, cli, names=names, mark=cli.mark())


def bug(server: Server) -> dict[str, Any]:
    """The seed's bug report, to and escalated to the test's own agents."""
    return BUG | {"to": server.name("code_agent"), "escalate_to": [server.name("human:me")]}


def test_the_seed_lifecycle_with_the_sync_client(server: Server) -> None:
    inbox_monitor, code_agent = server.name("inbox_monitor"), server.name("code_agent")
    with server.client("inbox_monitor") as inbox, server.client("code_agent") as coder:
        assert inbox.healthz()["ok"] is True
        sent = inbox.send(**bug(server), key="msg_123")
        assert (sent["sender"], sent["receiver"], sent["kind"], sent["state"]) == (
            inbox_monitor, code_agent, "bug_report", "requested",
        )  # fmt: skip
        assert sent["duplicate"] is False
        again = inbox.send(**bug(server), key="msg_123")
        assert (again["duplicate"], again["id"]) == (True, sent["id"])
        hid = sent["id"]

        acked = coder.ack(hid, eta=timedelta(hours=2), next_update="30m")
        assert acked["queue_position"] == 1
        assert acked["next_update_due"] is not None
        assert coder.ack(hid)["already_acked"] is True
        assert coder.status(hid, "progress", message="Reproduced on iOS")["state"] == "in_progress"
        assert inbox.note(hid, "customer called again")["id"] == hid
        done = coder.complete(hid, result={"fix": "PR #412"})
        assert (done["state"], done["result"]) == ("completed", {"fix": "PR #412"})

        shown = inbox.get(hid)
        assert [h["type"] for h in shown["history"]] == [
            "Created", "Acked", "StatusReported", "NoteAdded", "Completed",
        ]  # fmt: skip
        assert shown["history"] == server.cli.json("show", hid)["history"]
        assert inbox.get(hid, as_of=shown["created_at"])["state"] == "requested"
        assert [h["id"] for h in inbox.chain(hid)["handoffs"]] == [hid]
        assert coder.inbox(code_agent)["handoffs"] == []
        assert inbox.overdue()["overdue"] == []
        feed = inbox.notifications(inbox_monitor)
        assert [n["type"] for n in feed["notifications"]] == [
            "Acked",
            "StatusReported",
            "Completed",
        ]
        assert inbox.notifications(inbox_monitor, since=feed["next"])["notifications"] == []
        assert inbox.projections()["views"]

        first = inbox.log(since=server.mark, limit=2)
        assert [e["type"] for e in first["entries"]] == ["Created", "Acked"]
        rest = inbox.log(since=first["next"])
        assert [e["type"] for e in rest["entries"]] == ["StatusReported", "NoteAdded", "Completed"]
        paged = [e["type"] for e in inbox.iter_log(since=server.mark, page_size=2)]
        assert paged == ["Created", "Acked", "StatusReported", "NoteAdded", "Completed"]
        assert [e["position"] for e in inbox.iter_log(since=first["next"], page_size=1)] == [
            e["position"] for e in rest["entries"]
        ]


def test_the_seed_lifecycle_with_the_async_client(server: Server) -> None:
    async def scenario() -> tuple[dict[str, Any], list[str]]:
        async with server.aclient("inbox_monitor") as inbox, server.aclient("code_agent") as coder:
            sent = await inbox.send(**bug(server), key="msg_123")
            again = await inbox.send(**bug(server), key="msg_123")
            assert (again["duplicate"], again["id"]) == (True, sent["id"])
            hid = sent["id"]
            acked, inbox_now = await asyncio.gather(
                coder.ack(hid, eta="2h", next_update="30m"), coder.inbox(server.name("code_agent"))
            )
            assert acked["queue_position"] == 1
            assert inbox_now["agent"] == server.name("code_agent")
            await coder.status(hid, "progress", message="Reproduced on iOS")
            await coder.complete(hid, result={"fix": "PR #412"})
            shown = await inbox.get(hid)
            types = [
                entry["type"] async for entry in inbox.iter_log(since=server.mark, page_size=2)
            ]
            return shown, types

    shown, types = asyncio.run(scenario())
    assert shown["state"] == "completed"
    assert [h["type"] for h in shown["history"]] == types == [
        "Created", "Acked", "StatusReported", "Completed",
    ]  # fmt: skip


def test_a_reply_unblocks_the_receiver_and_fail_closes_the_work_with_both_clients(
    server: Server,
) -> None:
    with server.client("inbox_monitor") as inbox, server.client("code_agent") as coder:
        hid = inbox.send(to=server.name("code_agent"), escalate_to=[server.name("human:me")])["id"]
        assert coder.status(hid, "need_help", message="Which DB?")["state"] == "blocked"
        with pytest.raises(Forbidden) as by_receiver:
            coder.reply(hid, "myself")
        assert by_receiver.value.code == "not_permitted"
        with pytest.raises(Forbidden):
            inbox.fail(hid, "not mine to fail")
        replied = inbox.reply(hid, "Use PostgreSQL", data={"db": "pg"})
        assert replied["state"] == "in_progress"

    async def scenario() -> dict[str, Any]:
        async with server.aclient("human:me") as admin, server.aclient("code_agent") as coder:
            await coder.status(hid, "stuck")
            assert (await admin.reply(hid, "Ask Jane"))["state"] == "in_progress"
            failed = await coder.fail(hid, "Jane is away", result={"tried": ["pg"]})
            with pytest.raises(Conflict) as closed:
                await admin.reply(hid, "too late")
            assert closed.value.code == "invalid_state"
            return failed

    failed = asyncio.run(scenario())
    assert (failed["state"], failed["reason"], failed["result"]) == (
        "failed", "Jane is away", {"tried": ["pg"]},
    )  # fmt: skip
    with server.client("code_agent") as coder, pytest.raises(InvalidInput):
        coder.fail(hid, "")  # an empty reason: bad input, before any rule
    assert server.log_types()[-5:] == [
        "StatusReported", "Replied", "StatusReported", "Replied", "Failed",
    ]  # fmt: skip


def test_each_error_answer_raises_its_own_exception(server: Server) -> None:
    with server.client("inbox_monitor") as inbox:
        hid = inbox.send(to=server.name("code_agent"))["id"]
    before = server.log_types()

    def refused(kind: type[HandoffLedgerError], status: int, call: Any) -> HandoffLedgerError:
        with pytest.raises(kind) as caught:
            call()
        error = caught.value
        assert isinstance(error, HandoffLedgerError)
        assert error.status == status
        assert error.message
        return error

    with server.client(None) as anonymous:
        missing = refused(Unauthorized, 401, lambda: anonymous.ack(hid))
        assert missing.code == "unauthorized"
    with server.client("support_agent") as support:
        wrong = refused(Forbidden, 403, lambda: support.ack(hid))
        assert wrong.code == "not_permitted"
        refused(Forbidden, 403, lambda: support.notifications(server.name("code_agent")))
    with server.client("inbox_monitor") as inbox:
        refused(NotFound, 404, lambda: inbox.get(uuid.uuid4()))
        refused(NotFound, 404, lambda: inbox.get("../log"))
        big = {"blob": "x" * 1_100_000}
        too_large = refused(
            PayloadTooLarge, 413, lambda: inbox.send(to=server.name("code_agent"), payload=big)
        )
        assert too_large.code == "too_large"
        soon = refused(
            InvalidInput, 422, lambda: inbox.send(to=server.name("code_agent"), ack_within="soon")
        )
        assert (soon.code, soon.field) == ("invalid_input", "ack_within")
        empty = refused(InvalidInput, 422, lambda: inbox.decline(hid, ""))
        assert empty.field == "reason"
    assert server.log_types() == before

    with server.client("code_agent") as coder:
        coder.complete(hid)
        twice = refused(Conflict, 409, lambda: coder.complete(hid))
        assert twice.code == "invalid_state"
    server.cli.run("agents", "token", "revoke", server.name("code_agent"))
    with server.client("code_agent") as revoked:
        refused(Unauthorized, 401, lambda: revoked.note(hid, "still here?"))


def test_the_async_client_raises_the_same_errors(server: Server) -> None:
    async def scenario() -> None:
        async with server.aclient("inbox_monitor") as inbox:
            with pytest.raises(NotFound):
                await inbox.get(uuid.uuid4())
            with pytest.raises(InvalidInput) as caught:
                await inbox.send(to=server.name("code_agent"), deadline="someday")
            assert caught.value.field == "deadline"

    asyncio.run(scenario())
    assert server.log_types() == []


def test_a_trial_server_takes_the_agent_by_name(sqlite_cli: CLI) -> None:
    process, url = start_server(sqlite_cli, "--trial")
    try:
        with Client(url, agent="inbox_monitor") as inbox:
            assert inbox.send(to="code_agent")["sender"] == "inbox_monitor"
    finally:
        stop(process)
