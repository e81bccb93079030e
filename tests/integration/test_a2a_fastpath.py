"""A2A's fast path answers ``SendMessage`` with the SDK path's document.

Two twin stores (same backend, same simulated time, same protocol, same agents), one
app each: one with the fast path, one without. Every request below goes to both, the
same bytes each time, and the answers must be the same: status, content type, and
the same JSON document, printed with sorted keys (so ``1`` and ``1.0`` differ, and
only the order of an object's members may). The fast path builds its task as JSON
(``task_document``) where the SDK prints protobuf, whose ``Struct`` orders an
object's members its own way. Successes (a first send, with a key, a duplicate of
the key, blocking until completed, both bindings), multi-turn (a reply on an
input-required task), and errors (which the fast path hands to the SDK before
writing anything). Each send carries an idempotency key, so both stores make the
same handoff ids.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.a2a.fastpath import SendFastPath
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
EXT = "urn:handoff-ledger:a2a:ledger:v1"
PROTOCOL = """
[agents.inbox_monitor]
[agents.code_agent]
[kinds.bug_report]
to = "code_agent"
payload.required = ["issue"]
"""


class Twin:
    """One side: its ledger, its app, its tokens."""

    def __init__(self, url: str, fast: bool) -> None:
        self.ledger = open_ledger(url, clock=SimulatedClock(START))
        self.ledger.apply_protocol(PROTOCOL, source="handoff.toml", by="admin")
        self.tokens = {a: issue_token(self.ledger, a) for a in ("inbox_monitor", "code_agent")}
        self.client = TestClient(create_app(self.ledger, fast_path=fast))

    def post(self, path: str, body: bytes, *, as_: str = "inbox_monitor", **headers: str) -> Any:
        sent = {
            "Authorization": f"Bearer {self.tokens[as_]}",
            "A2A-Version": "1.0",
            "Content-Type": "application/json",
            **headers,
        }
        return self.client.post(path, content=body, headers=sent)


@pytest.fixture
def twins(store_url: str, tmp_path: Path) -> Iterator[tuple[Twin, Twin]]:
    if store_url.startswith("sqlite"):
        other, drop = f"sqlite:///{tmp_path}/twin.db", None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        base = store_url.split("?")[0]
        other, drop = f"{base}?schema={schema}", (base, schema)
    fast, slow = Twin(store_url, fast=True), Twin(other, fast=False)
    try:
        with fast.client, slow.client:
            yield fast, slow
    finally:
        fast.ledger.close()
        slow.ledger.close()
        if drop is not None:
            with psycopg.connect(drop[0], autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(drop[1]))
                )


def rpc(message: dict[str, Any], *, now: bool = True, rpc_id: Any = 7) -> bytes:
    params = {"message": message, "configuration": {"returnImmediately": now}}
    body = {"jsonrpc": "2.0", "id": rpc_id, "method": "SendMessage", "params": params}
    return json.dumps(body).encode()


def message(key: str | None, *parts: dict[str, Any], **more: Any) -> dict[str, Any]:
    metadata = {EXT: {"key": key}} if key else {}
    return {"messageId": "m-1", "role": "ROLE_USER", "parts": list(parts), "metadata": metadata, **more}  # fmt: skip


BUG = ({"text": "Login button not working"}, {"data": {"issue": "login"}})


def same(twins: tuple[Twin, Twin], path: str, body: bytes, **headers: str) -> Any:
    fast, slow = twins
    answers = [side.post(path, body, **headers) for side in (fast, slow)]
    a, b = answers
    assert (a.status_code, a.headers.get("content-type"), printed(a)) == (
        b.status_code, b.headers.get("content-type"), printed(b),
    )  # fmt: skip
    return a


def printed(answer: Any) -> str:
    """The answer's JSON with sorted keys: the document, whatever its members' order."""
    return json.dumps(answer.json(), sort_keys=True)


def fast_answers(twin: Twin) -> int:
    """How many sends the twin's fast path answered itself."""
    app: Any = twin.client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(app, SendFastPath):
        app = app.app
    return app.answered


def records(twin: Twin) -> list[tuple[str, str, int]]:
    return [
        (type(e.event).__name__, str(e.event.originator_id), e.event.originator_version)
        for e in twin.ledger.read_log()
    ]


def test_a_send_is_answered_with_the_sdk_s_bytes_on_both_bindings(
    twins: tuple[Twin, Twin],
) -> None:
    first = same(twins, "/a2a/code_agent", rpc(message("k1", *BUG)))
    task = first.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert task["id"] == str(Handoff.id_for_key("inbox_monitor", "k1"))
    # The same key again: the same task, nothing new (a duplicate).
    assert same(twins, "/a2a/code_agent", rpc(message("k1", *BUG))).json() == first.json()
    # A string id, the kind named in the extension, a contextId naming the chain.
    chained = message("k2", *BUG, contextId=task["contextId"])
    chained["metadata"][EXT]["kind"] = "bug_report"
    same(twins, "/a2a/code_agent", rpc(chained, rpc_id="abc"))
    # HTTP+JSON.
    rest = {"message": message("k3", *BUG), "configuration": {"returnImmediately": True}}
    answer = same(twins, "/a2a/code_agent/message:send", json.dumps(rest).encode())
    assert answer.json()["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"
    fast, slow = twins
    assert records(fast) == records(slow)
    assert fast_answers(fast) == 4  # every one of them, none handed to the SDK


def test_a_multi_member_payload_is_the_same_json(twins: tuple[Twin, Twin]) -> None:
    payload = {"data": {"issue": "login", "customer": "jane@company.com", "n": 3}}
    answers = [
        side.post("/a2a/code_agent", rpc(message("k4", {"text": "x"}, payload))) for side in twins
    ]
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].json() == answers[1].json()


def test_a_blocking_send_is_answered_when_the_receiver_completes(
    twins: tuple[Twin, Twin],
) -> None:
    def receiver(twin: Twin, key: str) -> None:
        handoff_id = Handoff.id_for_key("inbox_monitor", key)
        for _ in range(2000):  # until the send is recorded (another thread's request)
            if any(e.event.originator_id == handoff_id for e in twin.ledger.read_log()):
                break
            threading.Event().wait(0.005)
        twin.ledger.ack(handoff_id, by="code_agent")
        twin.ledger.complete(handoff_id, by="code_agent", result={"fix": "css"})

    answers = []
    for twin in twins:
        worker = threading.Thread(target=receiver, args=(twin, "b1"))
        worker.start()
        answers.append(twin.post("/a2a/code_agent", rpc(message("b1", *BUG), now=False)))
        worker.join()
    a, b = answers
    assert a.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert (a.status_code, printed(a)) == (b.status_code, printed(b))
    # Blocking on a task already completed answers at once, the same way.
    same(twins, "/a2a/code_agent", rpc(message("b1", *BUG), now=False))
    assert fast_answers(twins[0]) == 2


def test_a_reply_on_an_input_required_task_is_the_same(twins: tuple[Twin, Twin]) -> None:
    sent = same(twins, "/a2a/code_agent", rpc(message("t1", *BUG)))
    task_id = sent.json()["result"]["task"]["id"]
    for twin in twins:
        twin.ledger.report_status(
            UUID(task_id), by="code_agent", status=Status.NEED_HELP, message="Which phone?"
        )
    reply = message(None, {"text": "iPhone 15"}, taskId=task_id)
    answered = same(twins, "/a2a/code_agent", rpc(reply))
    assert answered.json()["result"]["task"]["status"]["state"] == "TASK_STATE_WORKING"
    fast, slow = twins
    assert records(fast) == records(slow)
    assert fast_answers(fast) == 2


@pytest.mark.parametrize(
    ("why", "path", "body", "headers"),
    [
        (
            "payload failing the schema",
            "/a2a/code_agent",
            rpc(message("e1", {"data": {"x": 1}})),
            {},
        ),
        ("unknown agent", "/a2a/nobody", rpc(message("e2", *BUG)), {}),
        ("a file part", "/a2a/code_agent", rpc(message("e3", {"url": "http://x/y"})), {}),
        (
            "unknown extension field",
            "/a2a/code_agent",
            rpc(message(None, *BUG, metadata={EXT: {"colour": "red"}})),
            {},
        ),
        (
            "a reply to an unknown task",
            "/a2a/code_agent",
            rpc(message(None, *BUG, taskId=str(uuid.uuid4()))),
            {},
        ),
        ("no messageId", "/a2a/code_agent", rpc({"role": "ROLE_USER", "parts": list(BUG)}), {}),
        ("not JSON", "/a2a/code_agent", b"{not json", {}),
        (
            "another method",
            "/a2a/code_agent",
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
            ).encode(),
            {},
        ),
        ("a batch", "/a2a/code_agent", b"[]", {}),
        (
            "an old A2A version",
            "/a2a/code_agent",
            rpc(message("e4", *BUG)),
            {"A2A-Version": "0.3"},
        ),
        (
            "an unknown token",
            "/a2a/code_agent",
            rpc(message("e5", *BUG)),
            {"Authorization": "Bearer hl_nope"},
        ),
        (
            "HTTP+JSON, bad input",
            "/a2a/code_agent/message:send",
            json.dumps({"message": message("e6", {"data": {"x": 1}})}).encode(),
            {},
        ),
    ],
)
def test_errors_are_the_sdk_s_own_and_write_nothing(
    twins: tuple[Twin, Twin], why: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    fast, slow = twins
    before = records(fast)
    answer = same(twins, path, body, **headers)
    assert answer.status_code != 200 or "error" in answer.json(), why
    assert records(fast) == before == records(slow)
    assert fast_answers(fast) == 0  # handed to the SDK, which answered
