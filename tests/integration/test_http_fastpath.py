"""The commands' fast path answers exactly as FastAPI does, odd requests included.

Two apps over one ledger, one with the fast path and one without; every request
below is sent to both and the answers must be the same (status, JSON document,
``WWW-Authenticate``). Refusals write nothing, so both apps see the same state;
successes are compared by status and by the document's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.http.fastpath import COMMANDS, CommandFastPath
from handoff_ledger.adapters.faces.http.nextpath import NextFastPath
from handoff_ledger.adapters.faces.http.routes import router
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token

UNKNOWN = "6f1c1f0e-0000-4000-8000-000000000000"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def apps(ledger: Ledger) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(create_app(ledger), raise_server_exceptions=False) as fast,
        TestClient(create_app(ledger, fast_path=False), raise_server_exceptions=False) as slow,
    ):
        yield fast, slow


def test_the_fast_path_serves_exactly_the_api_s_write_routes() -> None:
    posts = {
        route.path: route
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }
    assert set(posts) == {"/handoffs", *(f"/handoffs/{{id}}/{c}" for c in COMMANDS if c)}
    for segment, command in COMMANDS.items():
        route = posts["/handoffs" if segment is None else f"/handoffs/{{id}}/{segment}"]
        assert command.endpoint is route.endpoint
        assert command.status == (route.status_code or 200)
        body = route.body_field
        assert body is not None
        assert command.body in (body.field_info.annotation, *getattr(
            body.field_info.annotation, "__args__", ()
        ))  # fmt: skip


def _same(fast: TestClient, slow: TestClient, path: str, **request: Any) -> int:
    # A callable stands for a body that can be sent once (a chunked stream): one each.
    answers = [
        client.post(path, **{k: v() if callable(v) else v for k, v in request.items()})
        for client in (fast, slow)
    ]
    first, second = answers
    assert first.status_code == second.status_code, (path, request, first.text, second.text)
    assert first.json() == second.json(), (path, request)
    assert first.headers.get("www-authenticate") == second.headers.get("www-authenticate")
    assert first.headers["content-type"] == second.headers["content-type"]
    return first.status_code


def test_refusals_and_bad_input_get_the_same_answers_with_and_without_it(
    ledger: Ledger, apps: tuple[TestClient, TestClient]
) -> None:
    fast, slow = apps
    sender = {"Authorization": f"Bearer {issue_token(ledger, 'inbox_monitor')}"}
    receiver = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
    hid = str(ledger.send(sender="inbox_monitor", to="code_agent").handoff.id)
    before = ledger.recorder.max_notification_id()
    json = JSON
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("/handoffs", {"json": {"to": "code_agent"}}, 401),
        ("/handoffs", {"json": {"to": 5}}, 401),
        ("/handoffs", {"json": {"to": "x"}, "headers": {"Authorization": "Bearer hl_nope"}}, 401),
        ("/handoffs", {"json": {"to": "x"}, "headers": {"Authorization": "Basic abc"}}, 401),
        ("/handoffs", {"json": {"to": 5}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "bogus": 1}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "ack_within": "soon"}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "trigger": "a\u0000b"}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "payload": [1]}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "priority": "urgent"}, "headers": sender}, 422),
        ("/handoffs", {"json": [], "headers": sender}, 422),
        ("/handoffs", {"json": {}, "headers": sender}, 422),
        ("/handoffs", {"content": b"{", "headers": {**sender, **json}}, 422),
        ("/handoffs", {"content": b"\xff\xfe", "headers": {**sender, **json}}, 422),
        (
            "/handoffs",
            {"json": {"to": "x", "key": "a"}, "headers": {**sender, "Idempotency-Key": "b"}},
            422,
        ),
        ("/handoffs", {"json": {"to": "x", "parent_id": "nope"}, "headers": sender}, 422),
        ("/handoffs", {"json": {"to": "x", "parent_id": UNKNOWN}, "headers": sender}, 422),
        ("/handoffs", {"content": b'{"to": "x"}', "headers": {**sender, "Content-Type": "text/plain"}}, 422),
        ("/handoffs", {"content": lambda: iter([b"x" * 600_000, b"x" * 600_000]), "headers": {**sender, **json}}, 413),
        (f"/handoffs/{hid}/ack", {"json": {}, "headers": sender}, 403),
        (f"/handoffs/{hid}/ack", {"json": {"eta": "later"}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/ack", {"json": {"eta": 5}, "headers": receiver}, 422),
        ("/handoffs/not-a-uuid/ack", {"json": {}, "headers": receiver}, 404),
        (f"/handoffs/{UNKNOWN}/complete", {"json": {}, "headers": receiver}, 404),
        ("/handoffs/a%00b/complete", {"json": {}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/status", {"json": {}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/status", {"json": {"status": "bogus"}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/status", {"json": {"status": "working"}, "headers": sender}, 403),
        (f"/handoffs/{hid}/decline", {"json": {"reason": ""}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/decline", {"json": {"reason": "no"}, "headers": sender}, 403),
        (f"/handoffs/{hid}/cancel", {"json": {"reason": "no"}, "headers": receiver}, 403),
        (f"/handoffs/{hid}/fail", {"json": {"reason": ""}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/fail", {"json": {"reason": " "}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/fail", {"json": {"reason": "no"}, "headers": sender}, 403),
        (f"/handoffs/{hid}/reply", {"json": {"message": "x"}, "headers": receiver}, 403),
        (f"/handoffs/{hid}/reply", {"json": {"message": "x", "data": 1}, "headers": sender}, 422),
        (f"/handoffs/{hid}/reassign", {"json": {"to": "", "reason": "x"}, "headers": sender}, 422),
        (f"/handoffs/{hid}/notes", {"json": {"message": ""}, "headers": sender}, 422),
        (f"/handoffs/{hid}/complete", {"json": {"result": "done"}, "headers": receiver}, 422),
        (f"/handoffs/{hid}/complete?x=1", {"json": {"result": 1}, "headers": receiver}, 422),
    ]  # fmt: skip
    for path, request, status in cases:
        assert _same(fast, slow, path, **request) == status, (path, request)
    assert ledger.recorder.max_notification_id() == before  # nothing written


def _shape(document: dict[str, Any]) -> dict[str, Any]:
    return {key: type(value).__name__ for key, value in document.items()}


def test_successes_have_the_same_status_and_document_fields(
    ledger: Ledger, apps: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = apps
    answered: list[int] = []
    original = CommandFastPath._answer

    def spy(self: CommandFastPath, *args: Any) -> Any:
        answer = original(self, *args)
        answered.append(answer[0] if answer else 0)
        return answer

    monkeypatch.setattr(CommandFastPath, "_answer", spy)
    sender = {"Authorization": f"Bearer {issue_token(ledger, 'inbox_monitor')}"}
    receiver = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
    body = {"to": "code_agent", "payload": {"email": "é"}, "deadline": "4h", "key": "k1"}
    created = [c.post("/handoffs", json=body, headers=sender) for c in (fast, slow)]
    assert [a.status_code for a in created] == [201, 200]  # the second one: the same key
    assert created[1].json() == {**created[0].json(), "duplicate": True}
    again = fast.post("/handoffs", json=body, headers=sender)
    assert (again.status_code, again.json()) == (200, created[1].json())
    # Not JSON, though Python's reader takes it: the long way, and the domain refuses it.
    odd = {"content": b'{"to": "x", "payload": {"a": NaN}}', "headers": {**sender, **JSON}}
    head = ledger.recorder.max_notification_id()
    answers = [c.post("/handoffs", **odd) for c in (fast, slow)]  # type: ignore[arg-type]
    assert [a.status_code for a in answers] == [422, 422]
    assert [a.json()["error"]["field"] for a in answers] == ["payload.a", "payload.a"]
    assert ledger.recorder.max_notification_id() == head
    for segment, request in [
        ("status", {"status": "working", "message": "on it"}),
        ("notes", {"message": "fine"}),
        ("complete", {"result": {"ok": True}}),
        ("fail", {"reason": "no runner", "result": {"log": "x"}}),
        ("reply", {"message": "use the other one", "data": {"runner": 2}}),
    ]:
        answers = []
        for client in (fast, slow):
            hid = client.post("/handoffs", json={"to": "code_agent"}, headers=sender).json()["id"]
            if segment == "complete":
                client.post(f"/handoffs/{hid}/status", json={"status": "working"}, headers=receiver)
            headers = sender if segment in ("notes", "reply") else receiver
            answers.append(client.post(f"/handoffs/{hid}/{segment}", json=request, headers=headers))
        assert answers[0].status_code == answers[1].status_code, segment
        assert _shape(answers[0].json()) == _shape(answers[1].json()), segment
        assert answers[0].json()["state"] == answers[1].json()["state"], segment
    # The fast app answered these itself (0: handed to FastAPI, the NaN body).
    assert answered == [201, 200, 0, 201, 200, 201, 201, 201, 200, 200, 201, 200, 201, 200]


def _fast_next(client: TestClient) -> NextFastPath:
    app: Any = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(app, NextFastPath):
        app = app.app
    return app


def test_takes_get_the_same_answers_with_and_without_it(
    ledger: Ledger, apps: tuple[TestClient, TestClient]
) -> None:
    """``GET /agents/{name}/next``: refusals and bad input as FastAPI answers them,
    nothing written; takes with the same status and document fields, each app's fast
    path answering what it should."""
    fast, slow = apps
    sender = {"Authorization": f"Bearer {issue_token(ledger, 'inbox_monitor')}"}
    receiver = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
    before = ledger.recorder.max_notification_id()
    cases: list[tuple[str, dict[str, str], int, bool]] = [  # path, headers, status, fast
        ("/agents/code_agent/next", {}, 401, False),
        ("/agents/code_agent/next", {"Authorization": "Bearer hl_nope"}, 401, False),
        ("/agents/code_agent/next", sender, 403, True),
        ("/agents/code_agent/next?wait=soon", receiver, 422, True),
        ("/agents/code_agent/next?wait=2m", receiver, 422, True),
        ("/agents/code_agent/next?eta=later", receiver, 422, True),
        ("/agents/code_agent/next?worker=", receiver, 422, True),
        ("/agents/code_agent/next?wait=a%00b", receiver, 422, False),
        ("/agents/code%00agent/next", receiver, 422, False),
        ("/agents/code_agent/next?wait=0s&wait=1s", receiver, 204, False),
        ("/agents/code_agent/next?bogus=1", receiver, 204, False),
        ("/agents/code_agent/next?wait=%FF", receiver, 422, False),
        ("/agents/code_agent/next", receiver, 204, True),
        ("/agents/code_agent/next?wait=1s&worker=w1&eta=1h&next_update=30m", receiver, 204, True),
    ]
    for path, headers, status, taken_fast in cases:
        counted = _fast_next(fast).answered
        answers = [client.get(path, headers=headers) for client in (fast, slow)]
        first, second = answers
        assert first.status_code == second.status_code == status, (path, first.text)
        assert first.content == second.content, path
        assert first.headers.get("content-type") == second.headers.get("content-type"), path
        assert first.headers.get("www-authenticate") == second.headers.get("www-authenticate")
        assert _fast_next(fast).answered - counted == int(taken_fast), path
    assert ledger.recorder.max_notification_id() == before  # nothing written
    ids = [str(ledger.send(sender="inbox_monitor", to="code_agent").handoff.id) for _ in "ab"]
    first, second = (  # two workers: one worker's second take resumes its first
        client.get(f"/agents/code_agent/next?wait=1s&worker={worker}&eta=1h", headers=receiver)
        for client, worker in ((fast, "w1"), (slow, "w2"))
    )
    assert first.status_code == second.status_code == 200
    assert _shape(first.json()) == _shape(second.json())
    assert {first.json()["id"], second.json()["id"]} == set(ids)
    assert first.json()["state"] == second.json()["state"] == "acked"
    assert first.headers["content-type"] == second.headers["content-type"]
    assert _fast_next(fast).answered == 8  # seven cases above, and this take
