"""``POST /handoffs/{id}/fail`` and ``/reply`` on the real app, over both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.domain.states import Status


@pytest.fixture
def api(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        yield client


def bearer(ledger: Ledger, agent: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(ledger, agent, admin=admin)}"}


def test_a_blocked_receiver_gets_a_reply_and_resumes(ledger: Ledger, api: TestClient) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent", escalate_to=["human:me"])
    hid = sent.handoff.id
    ledger.report_status(hid, by="code_agent", status=Status.NEED_HELP, message="Which DB?")
    answer = api.post(
        f"/handoffs/{hid}/reply",
        json={"message": "PostgreSQL", "data": {"db": "pg"}},
        headers=bearer(ledger, "human:me"),  # an escalation target
    )
    assert answer.status_code == 200
    assert answer.json()["state"] == "in_progress"
    shown = api.get(f"/handoffs/{hid}", headers=bearer(ledger, "inbox_monitor")).json()
    last = shown["history"][-1]
    assert (last["type"], last["by"]) == ("Replied", "human:me")
    assert (last["message"], last["data"]) == ("PostgreSQL", {"db": "pg"})


def test_an_admin_token_may_reply_to_any_open_handoff(ledger: Ledger, api: TestClient) -> None:
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    stranger = api.post(
        f"/handoffs/{hid}/reply", json={"message": "hi"}, headers=bearer(ledger, "ops")
    )
    assert stranger.status_code == 403
    admin = api.post(
        f"/handoffs/{hid}/reply", json={"message": "hi"}, headers=bearer(ledger, "ops", admin=True)
    )
    assert admin.status_code == 200


def test_the_receiver_fails_with_what_the_attempt_left(ledger: Ledger, api: TestClient) -> None:
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    answer = api.post(
        f"/handoffs/{hid}/fail",
        json={"reason": "the runner is gone", "result": {"log": "ERR 42"}},
        headers=bearer(ledger, "code_agent"),
    )
    assert answer.status_code == 200
    document = answer.json()
    assert (document["state"], document["reason"]) == ("failed", "the runner is gone")
    assert document["result"] == {"log": "ERR 42"}


def test_refusals_and_bad_input_answer_403_409_422_and_write_nothing(
    ledger: Ledger, api: TestClient
) -> None:
    sender, receiver = bearer(ledger, "inbox_monitor"), bearer(ledger, "code_agent")
    stranger = bearer(ledger, "support_agent")
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    done = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    ledger.complete(done, by="code_agent")
    before = ledger.recorder.max_notification_id()
    cases = [
        ("reply", {"message": "x"}, receiver, 403, "not_permitted"),
        ("reply", {"message": "x"}, stranger, 403, "not_permitted"),
        ("fail", {"reason": "x"}, sender, 403, "not_permitted"),
        ("reply", {"message": ""}, sender, 422, None),
        ("reply", {"message": "x", "data": [1]}, sender, 422, None),
        ("reply", {"message": "x", "extra": 1}, sender, 422, None),
        ("fail", {"reason": ""}, receiver, 422, None),
        ("fail", {}, receiver, 422, None),
        ("fail", {"reason": " "}, receiver, 422, "invalid_input"),
    ]
    for command, body, headers, status, code in cases:
        answer = api.post(f"/handoffs/{hid}/{command}", json=body, headers=headers)
        assert answer.status_code == status, (command, body, answer.text)
        if code is not None:
            assert answer.json()["error"]["code"] == code
    for command, body, headers in [
        ("reply", {"message": "x"}, sender),
        ("fail", {"reason": "x"}, receiver),
    ]:
        answer = api.post(f"/handoffs/{done}/{command}", json=body, headers=headers)
        assert answer.status_code == 409, (command, answer.text)
        assert answer.json()["error"]["code"] == "invalid_state"
    assert ledger.recorder.max_notification_id() == before
