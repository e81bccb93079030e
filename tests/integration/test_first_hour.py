"""What a new user trips over in the first hour (issue 22), on the HTTP API and MCP.

Each face is driven in-process on one SQLite store: the HTTP app with its fast path
(how ``serve`` runs) and without (FastAPI alone), and the MCP server through the
official client's in-memory transport. The CLI's side of the same items is in
tests/e2e/test_cli_errors.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.mcp.server import LocalBackend, build_server
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import Caller, issue_token
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import UnknownHandoff

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def ledger(sqlite_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    """One store is enough: these are the faces' answers, not the stores'."""
    opened = open_ledger(sqlite_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def apps(ledger: Ledger) -> Iterator[list[TestClient]]:
    with (
        TestClient(create_app(ledger), raise_server_exceptions=False) as fast,
        TestClient(create_app(ledger, fast_path=False), raise_server_exceptions=False) as slow,
    ):
        yield [fast, slow]


@pytest.fixture
def tokens(ledger: Ledger) -> dict[str, dict[str, str]]:
    return {
        agent: {"Authorization": f"Bearer {issue_token(ledger, agent)}"}
        for agent in ("inbox_monitor", "code_agent", "support_agent")
    }


def http_error(
    apps: list[TestClient], method: str, path: str, status: int, **request: Any
) -> dict[str, Any]:
    """The error both apps answer with: the same one, with ``status``."""
    errors = []
    for client in apps:
        answer = client.request(method, path, **request)
        assert answer.status_code == status, (path, answer.text)
        errors.append(answer.json()["error"])
    assert errors[0] == errors[1]
    error: dict[str, Any] = errors[0]
    return error


def mcp_call(ledger: Ledger, agent: str, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """One tool call as ``agent``: (is_error, its document)."""
    server = build_server(LocalBackend(ledger), lambda ctx: Caller(agent, False), agent=agent)

    async def call() -> tuple[bool, Any]:
        async with Client(server) as client:
            result = await client.call_tool(tool, arguments)
            text = result.content[0].text  # type: ignore[union-attr]
            assert json.loads(text) == result.structured_content
            return result.is_error, result.structured_content

    return anyio.run(call)


def mcp_error(ledger: Ledger, agent: str, tool: str, **arguments: Any) -> dict[str, Any]:
    failed, document = mcp_call(ledger, agent, tool, **arguments)
    assert failed, document
    error: dict[str, Any] = document["error"]
    return error


# ------------------------------------------------------------------ 1: bodies


def test_malformed_json_names_the_body_and_the_character(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    before = ledger.head()
    headers = {**tokens["inbox_monitor"], **JSON}
    error = http_error(
        apps, "POST", "/handoffs", 422, headers=headers, content=b'{"to": "code_agent", x}'
    )
    assert error["field"] == "body"
    assert error["message"].startswith("body: not valid JSON at character 21 (")
    assert "Content-Type: application/json" in error["message"]
    assert ledger.head() == before


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_sent_without_a_json_content_type_says_to_send_one(
    ledger: Ledger,
    apps: list[TestClient],
    tokens: dict[str, dict[str, str]],
    content_type: str | None,
) -> None:
    before = ledger.head()
    headers = dict(tokens["inbox_monitor"])
    if content_type:
        headers["Content-Type"] = content_type
    error = http_error(
        apps, "POST", "/handoffs", 422, headers=headers, content=b'{"to": "code_agent"}'
    )
    assert error["field"] == "body"
    sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    assert error["message"] == (
        f"body: not read as JSON ({sent}); send a JSON object with Content-Type: application/json"
    )
    assert "valid dictionary" not in error["message"]
    assert ledger.head() == before


def test_a_json_array_body_is_not_an_object(
    apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    error = http_error(apps, "POST", "/handoffs", 422, headers=tokens["inbox_monitor"], json=[1])
    assert error == {
        "code": "invalid_input",
        "message": "body: must be a JSON object ({...}), not an array",
        "field": "body",
    }


def test_a_from_field_says_the_sender_is_the_tokens_agent_on_http_and_mcp(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    before = ledger.head()
    body = {"to": "code_agent", "from": "inbox_monitor"}
    error = http_error(apps, "POST", "/handoffs", 422, headers=tokens["inbox_monitor"], json=body)
    assert error["field"] == "from"
    assert error["message"].startswith("from: not accepted: the sender is the bearer token's agent")
    assert "(fields: to, kind, trigger," in error["message"]
    assert "Extra inputs" not in error["message"]
    typo = http_error(
        apps, "POST", "/handoffs", 422, headers=tokens["inbox_monitor"], json={"tox": "a"}
    )
    assert typo["message"].startswith("tox: unknown field (fields: to, kind,")
    tool = mcp_error(ledger, "inbox_monitor", "send_handoff", to="code_agent", sender="x")
    assert tool["field"] == "sender"
    assert tool["message"].startswith("sender: not accepted: the sender is you, the agent this")
    assert ledger.head() == before


# ------------------------------------------------------------------ 2: each face's own names


def test_http_and_mcp_errors_name_their_own_fields_never_cli_flags(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    error = http_error(apps, "POST", "/handoffs", 422, headers=tokens["inbox_monitor"], json={})
    assert error["field"] == "to"
    assert error["message"].startswith("to: required: name the receiver, or a kind")
    tool = mcp_error(ledger, "inbox_monitor", "send_handoff")
    assert tool == error
    # A token issued before the protocol, for an agent it does not declare.
    stranger = {"Authorization": f"Bearer {issue_token(ledger, 'ghost')}"}
    ledger.apply_protocol(
        "[agents.inbox_monitor]\n[agents.code_agent]\n[agents.support_agent]\n",
        source="handoff.toml",
    )
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    path = f"/handoffs/{sent.id}/ack"
    error = http_error(apps, "POST", path, 422, headers=stranger, json={})
    tool = mcp_error(ledger, "ghost", "ack_handoff", id=str(sent.id))
    for answer in (error, tool):
        assert answer["field"] == "agent"
        assert answer["message"].startswith("agent (the caller's): agent 'ghost' is not declared")
    for answer in (error, tool):
        assert "--" not in answer["message"]


# ------------------------------------------------------------------ 5: precedence


def test_a_stranger_acking_a_completed_handoff_is_not_permitted_on_http_and_mcp(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.complete(sent.id, by="code_agent")
    before = ledger.head()
    path = f"/handoffs/{sent.id}/ack"
    error = http_error(apps, "POST", path, 403, headers=tokens["support_agent"], json={})
    assert error["code"] == "not_permitted"
    assert mcp_error(ledger, "support_agent", "ack_handoff", id=str(sent.id)) == error
    cancel = f"/handoffs/{sent.id}/cancel"
    by_receiver = http_error(
        apps, "POST", cancel, 403, headers=tokens["code_agent"], json={"reason": "x"}
    )
    assert by_receiver["code"] == "not_permitted"
    closed = http_error(apps, "POST", path, 409, headers=tokens["code_agent"], json={})
    assert closed["code"] == "invalid_state"
    assert ledger.head() == before


# ------------------------------------------------------------------ 3: short ids


def test_a_unique_short_id_is_taken_on_http_mcp_and_the_dashboard_search(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]]
) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    short = str(sent.id)[:8]
    for client in apps:
        shown = client.get(f"/handoffs/{short}", headers=tokens["code_agent"])
        assert shown.status_code == 200, shown.text
        assert shown.json()["id"] == str(sent.id)
    acked = apps[0].post(f"/handoffs/{short}/ack", headers=tokens["code_agent"], json={})
    assert acked.status_code == 200, acked.text
    assert acked.json()["id"] == str(sent.id)
    failed, document = mcp_call(ledger, "code_agent", "get_handoff", id=str(sent.id)[:13])
    assert not failed
    assert document["id"] == str(sent.id)
    failed, document = mcp_call(
        ledger, "code_agent", "report_status", id=short.upper(), status="working"
    )
    assert not failed
    assert document["state"] == "in_progress"
    traced = apps[1].get(f"/chains/{short}", headers=tokens["code_agent"])
    assert traced.status_code == 200
    assert traced.json()["chain_id"] == str(sent.id)


def test_the_dashboard_search_opens_a_chain_by_its_short_id(ledger: Ledger) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    token = issue_token(ledger, "human:me", admin=True)
    app = create_app(ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        login = client.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
        assert login.status_code == 303
        found = client.get(f"/dashboard/find?id={str(sent.id)[:8]}")
        page = client.get(found.headers["location"])
        assert page.status_code == 200, page.text[:300]
        assert str(sent.id) in page.text


def test_an_ambiguous_short_id_is_refused_listing_the_handoffs_it_starts(
    ledger: Ledger,
    apps: list[TestClient],
    tokens: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twins = iter(
        [UUID("f43acbe8-0000-4000-8000-000000000001"), UUID("f43acbe8-ffff-4000-8000-000000000002")]
    )
    monkeypatch.setattr("handoff_ledger.domain.handoff.uuid4", lambda: next(twins))
    first = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    second = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    before = ledger.head()
    path = "/handoffs/f43acbe8/ack"
    error = http_error(apps, "POST", path, 422, headers=tokens["code_agent"], json={})
    assert error["field"] == "id"
    assert error["message"] == (
        f"id: 'f43acbe8' is ambiguous: it starts {first.id}, {second.id}; give more of the id"
    )
    assert mcp_error(ledger, "code_agent", "ack_handoff", id="f43acbe8") == error
    assert ledger.head() == before
    longer = apps[0].get("/handoffs/f43acbe8-0000", headers=tokens["code_agent"])
    assert longer.status_code == 200
    assert longer.json()["id"] == str(first.id)


@pytest.mark.parametrize("given", ["nonsense", "f43acbe", "0123456789abcdef"])
def test_an_id_that_names_no_handoff_gets_the_same_answer_on_http_and_mcp(
    ledger: Ledger, apps: list[TestClient], tokens: dict[str, dict[str, str]], given: str
) -> None:
    error = http_error(apps, "GET", f"/handoffs/{given}", 404, headers=tokens["code_agent"])
    assert error["code"] == "unknown_handoff"
    assert error["field"] == "id"
    assert mcp_error(ledger, "code_agent", "get_handoff", id=given) == error
    acked = http_error(
        apps, "POST", f"/handoffs/{given}/ack", 404, headers=tokens["code_agent"], json={}
    )
    assert acked == error


def test_short_ids_resolve_on_both_stores(store_url: str, clock: SimulatedClock) -> None:
    opened = open_ledger(store_url, clock=clock)
    try:
        sent = opened.send(sender="inbox_monitor", to="code_agent").handoff
        other = opened.send(sender="inbox_monitor", to="code_agent").handoff
        for given in (str(sent.id)[:8], str(sent.id)[:20], str(sent.id).replace("-", "")[:31]):
            assert resolve_id(opened, given) == sent.id
        assert resolve_id(opened, str(other.id)[:8].upper()) == other.id
        missing = "0" * 8 if not str(sent.id).startswith("0" * 8) else "f" * 8
        with pytest.raises(UnknownHandoff, match="no handoff id starts with"):
            resolve_id(opened, missing)
    finally:
        opened.close()


# ------------------------------------------------------------------ 4: times back from now


def test_time_parameters_take_a_duration_back_from_now_on_http_and_mcp(
    ledger: Ledger,
    clock: SimulatedClock,
    apps: list[TestClient],
    tokens: dict[str, dict[str, str]],
) -> None:
    early = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(hours=5))
    late = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(hours=1))
    for client in apps:
        page = client.get("/log?since=2h", headers=tokens["code_agent"]).json()
        assert [e["handoff_id"] for e in page["entries"]] == [str(late.id)]
        then = client.get(f"/handoffs/{late.id}?as_of=3h", headers=tokens["code_agent"])
        assert then.status_code == 404  # three hours ago it had not been sent
        inbox = client.get("/agents/code_agent/inbox?as_of=2h", headers=tokens["code_agent"])
        assert [h["id"] for h in inbox.json()["handoffs"]] == [str(early.id)]
    failed, page = mcp_call(ledger, "code_agent", "read_log", since="2h")
    assert not failed
    assert [e["handoff_id"] for e in page["entries"]] == [str(late.id)]
    failed, shown = mcp_call(ledger, "code_agent", "get_handoff", id=str(early.id), as_of="1h")
    assert not failed
    assert shown["as_of"] == "2026-11-25T14:00:00Z"


# ------------------------------------------------------------------ 9: a lean read_log


def test_mcp_read_log_leaves_hashes_out_and_pages_by_default(ledger: Ledger) -> None:
    for _ in range(15):  # 30 events
        sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
        ledger.ack(sent.id, by="code_agent")
    failed, page = mcp_call(ledger, "code_agent", "read_log")
    assert not failed
    assert len(page["entries"]) == 20
    assert page["next"] == page["entries"][-1]["position"]
    assert not [e for e in page["entries"] if "hash" in e or "prev_hash" in e]
    failed, rest = mcp_call(ledger, "code_agent", "read_log", since=page["next"], hashes=True)
    assert not failed
    assert len(rest["entries"]) == 10
    assert all(len(e["hash"]) == 64 and "prev_hash" in e for e in rest["entries"])
