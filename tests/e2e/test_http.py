"""The HTTP API against a real ``handoff serve`` on loopback, with real httpx clients."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest
from conftest import CLI, Shared, free_port, own_names, own_tokens, start_server, stop

__all__ = ["start_server", "stop"]  # imported from here by other modules' tests

AGENTS = ["inbox_monitor", "code_agent", "support_agent"]


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

    def client(self, agent: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"} if agent else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def log_types(self) -> list[str]:
        with self.client("human:me") as admin:
            entries: list[dict[str, Any]] = []
            cursor = self.mark  # what this test wrote, on a shared store
            while True:
                page = admin.get("/log", params={"since": cursor, "limit": 1000}).json()
                entries += page["entries"]
                if not page["entries"]:
                    return [e["type"] for e in entries]
                cursor = page["next"]


@pytest.fixture
def server(module_server: Shared) -> Server:
    """The module's server (one per store), with this test's own agents and tokens."""
    cli = module_server.cli
    names = own_names(*AGENTS, "human:me")
    tokens = own_tokens(cli, names, admins=("human:me",))
    return Server(module_server.url, tokens, cli, names=names, mark=cli.mark())


def test_the_lifecycle_over_http(server: Server) -> None:
    inbox_monitor, code_agent = server.name("inbox_monitor"), server.name("code_agent")
    with server.client("inbox_monitor") as inbox, server.client("code_agent") as coder:
        body = {
            "to": code_agent, "trigger": "Bug report detected", "priority": "medium",
            "payload": {"email_id": "msg_123", "customer": "jane@company.com"},
            "ack_within": "1h", "deadline": "4h", "escalate_to": [server.name("human:me")],
        }  # fmt: skip
        created = inbox.post("/handoffs", json=body, headers={"Idempotency-Key": "msg_123"})
        assert created.status_code == 201, created.text
        sent = created.json()
        assert (sent["sender"], sent["receiver"], sent["state"]) == (
            inbox_monitor, code_agent, "requested",
        )  # fmt: skip
        again = inbox.post("/handoffs", json=body, headers={"Idempotency-Key": "msg_123"})
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["id"] == sent["id"]
        hid = sent["id"]

        acked = coder.post(f"/handoffs/{hid}/ack", json={"eta": "2h", "next_update": "30m"})
        assert acked.status_code == 200, acked.text
        inbox_doc = coder.get(f"/agents/{code_agent}/inbox").json()
        positions = {h["id"]: h["queue_position"] for h in inbox_doc["handoffs"]}
        assert acked.json()["queue_position"] == positions[hid] == 1
        assert acked.json()["next_update_due"] is not None

        reported = coder.post(
            f"/handoffs/{hid}/status", json={"status": "progress", "message": "Reproduced"}
        )
        assert reported.json()["state"] == "in_progress"
        noted = inbox.post(f"/handoffs/{hid}/notes", json={"message": "customer called"})
        assert noted.status_code == 201
        done = coder.post(f"/handoffs/{hid}/complete", json={"result": {"fix": "PR #412"}})
        assert done.json()["state"] == "completed"

        shown = inbox.get(f"/handoffs/{hid}").json()
        assert [h["type"] for h in shown["history"]] == [
            "Created", "Acked", "StatusReported", "NoteAdded", "Completed",
        ]  # fmt: skip
        chain = inbox.get(f"/chains/{hid}").json()
        assert [h["id"] for h in chain["handoffs"]] == [hid]
        feed = inbox.get(f"/agents/{inbox_monitor}/notifications").json()
        assert [n["type"] for n in feed["notifications"]] == [
            "Acked",
            "StatusReported",
            "Completed",
        ]
        assert inbox.get("/overdue").json()["overdue"] == []
        assert inbox.get("/projections").json()["views"]
        log = inbox.get("/log", params={"since": server.mark, "limit": 2}).json()
        assert [e["type"] for e in log["entries"]] == ["Created", "Acked"]
        rest = inbox.get("/log", params={"since": log["next"]}).json()
        assert [e["type"] for e in rest["entries"]] == ["StatusReported", "NoteAdded", "Completed"]
        # The same documents as the CLI's --json.
        cli_show = server.cli.json("show", hid)
        assert cli_show["history"] == shown["history"]
        assert (
            server.cli.json("inbox", inbox_monitor)["handoffs"]
            == (inbox.get(f"/agents/{inbox_monitor}/inbox").json()["handoffs"])
        )
        spec = inbox.get("/openapi.json").json()
        assert "/handoffs/{id}/ack" in spec["paths"]


def test_fifty_clients_race_to_complete_one_handoff(server: Server) -> None:
    with server.client("inbox_monitor") as inbox:
        hid = inbox.post("/handoffs", json={"to": server.name("code_agent")}).json()["id"]
    barrier = Barrier(50)

    def complete(index: int) -> int:
        with server.client("code_agent") as coder:
            barrier.wait()
            answer = coder.post(f"/handoffs/{hid}/complete", json={"result": {"worker": index}})
            return answer.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = Counter(pool.map(complete, range(50)))
    assert codes == Counter({200: 1, 409: 49})
    assert server.log_types().count("Completed") == 1


def test_identity_comes_from_the_token(server: Server) -> None:
    with server.client("inbox_monitor") as inbox:
        hid = inbox.post("/handoffs", json={"to": server.name("code_agent")}).json()["id"]
    before = server.log_types()
    with server.client("support_agent") as support:
        refused = support.post(f"/handoffs/{hid}/ack")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "not_permitted"
        assert support.get(f"/agents/{server.name('code_agent')}/notifications").status_code == 403
    with server.client(None) as anonymous:
        missing = anonymous.post(f"/handoffs/{hid}/ack")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
    with server.client("code_agent") as coder:  # the server now knows this token
        assert coder.get(f"/handoffs/{hid}").status_code == 200
    server.cli.run("agents", "token", "revoke", server.name("code_agent"))  # another process
    with server.client("code_agent") as revoked:
        assert revoked.post(f"/handoffs/{hid}/ack").status_code == 401
        assert revoked.get(f"/handoffs/{hid}").status_code == 401
    with server.client("inbox_monitor") as inbox:
        assert inbox.get(f"/handoffs/{hid}").status_code == 200
    # An admin token may cancel what it did not send.
    with server.client("human:me") as admin:
        assert admin.post(f"/handoffs/{hid}/cancel", json={"reason": "dup"}).status_code == 200
    assert server.log_types() == [*before, "Cancelled"]


def test_errors_say_what_happened_and_write_nothing(server: Server) -> None:
    with server.client("inbox_monitor") as inbox:
        hid = inbox.post("/handoffs", json={"to": server.name("code_agent")}).json()["id"]
        before = server.log_types()
        cases = [
            (inbox.post("/handoffs", json={"to": "x", "payload": [1]}), 422, "payload"),
            (inbox.post("/handoffs", json={"to": "x", "ack_within": "soon"}), 422, "ack_within"),
            (inbox.post("/handoffs", json={"to": "x", "ack_whithin": "1h"}), 422, "ack_whithin"),
            (inbox.post("/handoffs", json={"to": "x", "priority": "urgent"}), 422, None),
            (
                inbox.post(
                    "/handoffs", content=b"{oops", headers={"content-type": "application/json"}
                ),
                422,
                None,
            ),
            (inbox.post(f"/handoffs/{hid}/decline", json={}), 422, "reason"),
            (inbox.get("/handoffs/00000000-0000-0000-0000-000000000000"), 404, None),
            (inbox.get("/handoffs/not-a-uuid"), 404, None),
            (inbox.post(f"/handoffs/{hid}/complete"), 403, None),
            (inbox.get("/log", params={"since": "yesterday"}), 422, None),
        ]
        for answer, code, field in cases:
            assert answer.status_code == code, (answer.request.url, answer.text)
            error = answer.json()["error"]
            assert error["message"]
            assert "Traceback" not in answer.text
            if field is not None:
                assert error["field"].startswith(field), error
        big = {"to": server.name("code_agent"), "payload": {"blob": "x" * 1_100_000}}
        too_large = inbox.post("/handoffs", json=big)
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "too_large"
        assert server.log_types() == before
        with server.client("code_agent") as coder:
            coder.post(f"/handoffs/{hid}/complete")
            twice = coder.post(f"/handoffs/{hid}/complete")
            assert twice.status_code == 409
            assert twice.json()["error"]["code"] == "invalid_state"


def test_serve_refuses_to_start_without_tokens_unless_a_loopback_trial(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    missing = sqlite_cli.run("serve", "--port", str(free_port()), expect=2)
    assert "holds no ledger" in missing.stderr  # serve never creates a store, save --trial
    sqlite_cli.run("init")
    refused = sqlite_cli.run("serve", "--port", str(free_port()), expect=1)
    assert "no tokens exist" in refused.stderr
    wide = sqlite_cli.run("serve", "--trial", "--host", "0.0.0.0", expect=2)
    assert "loopback only" in wide.stderr
    process, url = start_server(sqlite_cli, "--trial")
    try:
        sent = httpx.post(
            f"{url}/handoffs", json={"to": "code_agent"}, headers={"X-Handoff-Agent": "me"}
        )
        assert sent.status_code == 201
        assert sent.json()["sender"] == "me"
        assert httpx.post(f"{url}/handoffs", json={"to": "code_agent"}).status_code == 401
    finally:
        stop(process)
    assert json.loads(sqlite_cli.run("log", "--json").stdout.splitlines()[0])["by"] == "me"


def test_several_worker_processes_serve_one_ledger(cli: CLI) -> None:
    tokens = cli.issue_tokens(*AGENTS)
    process, url = start_server(cli, "--workers", "2")
    try:
        server = Server(url=url, tokens=tokens, cli=cli)
        with server.client("inbox_monitor") as inbox, server.client("code_agent") as coder:
            ids = [
                inbox.post("/handoffs", json={"to": "code_agent"}).json()["id"] for _ in range(6)
            ]
            positions = [coder.post(f"/handoffs/{hid}/ack").json()["queue_position"] for hid in ids]
            assert positions == [1, 2, 3, 4, 5, 6]  # each ack sees the queue as it stands
            assert coder.post(f"/handoffs/{ids[0]}/complete").status_code == 200
            queue = coder.get("/agents/code_agent/inbox").json()["handoffs"]
            assert [h["id"] for h in queue] == ids[1:]
    finally:
        stop(process)


def test_agents_token_create_list_and_revoke_through_the_cli(sqlite_cli: CLI) -> None:
    made = sqlite_cli.json("agents", "token", "create", "code_agent")
    assert (made["agent"], made["admin"], sorted(made)) == ("code_agent", False, sorted(
        ["agent", "admin", "token"]
    ))  # fmt: skip
    admin = sqlite_cli.json("agents", "token", "create", "human:me", "--admin")
    assert admin["admin"] is True
    listed = sqlite_cli.json("agents", "token", "list")["tokens"]
    assert sorted((t["agent"], t["admin"], t["revoked_at"]) for t in listed) == [
        ("code_agent", False, None), ("human:me", True, None),
    ]  # fmt: skip
    for shown in (str(listed), sqlite_cli.run("agents", "token", "list").stdout):
        assert made["token"] not in shown
        assert admin["token"] not in shown
    assert sqlite_cli.json("agents", "token", "revoke", "code_agent") == {
        "agent": "code_agent", "revoked": 1,
    }  # fmt: skip
    after = {
        t["agent"]: t["revoked_at"] for t in sqlite_cli.json("agents", "token", "list")["tokens"]
    }
    assert after["code_agent"] is not None
    assert after["human:me"] is None
    unknown = sqlite_cli.run("agents", "token", "revoke", "--token", "hl_unknown", expect=2)
    assert "token" in unknown.stderr
