"""Input an agent can send over HTTP cannot break the log: refused with 422, nothing written.

Each request goes to the app with its fast path (how ``serve`` runs) and without
(FastAPI alone), on both stores; both must refuse it the same way and write nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.domain.rules import MAX_ESCALATION_TARGETS, MAX_JSON_DEPTH

JSON = {"Content-Type": "application/json"}


def nested(levels: int) -> dict[str, Any]:
    """A JSON object ``levels`` deep: ``{"a": {"a": ... {"bottom": true}}}``."""
    value: dict[str, Any] = {"bottom": True}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def deep_text(levels: int) -> bytes:
    """A body nesting ``levels`` arrays in its payload, as raw JSON text."""
    return b'{"to": "code_agent", "payload": {"x": ' + b"[" * levels + b"]" * levels + b"}}"


@pytest.fixture
def apps(ledger: Ledger) -> Iterator[list[TestClient]]:
    with (
        TestClient(create_app(ledger), raise_server_exceptions=False) as fast,
        TestClient(create_app(ledger, fast_path=False), raise_server_exceptions=False) as slow,
    ):
        yield [fast, slow]


@pytest.fixture
def sender(ledger: Ledger) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(ledger, 'inbox_monitor')}"}


def refused(
    clients: list[TestClient], path: str, headers: dict[str, str], **request: Any
) -> dict[str, Any]:
    """The error both apps answer with (the same one, 422)."""
    errors = []
    for client in clients:
        answer = client.post(path, headers={**JSON, **headers}, **request)
        assert answer.status_code == 422, (path, answer.text)
        errors.append(answer.json()["error"])
    assert errors[0] == errors[1]
    error: dict[str, Any] = errors[0]
    assert error["code"] == "invalid_input"
    return error


def test_a_payload_nested_past_the_cap_is_refused_naming_the_field(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    before = ledger.head()
    for levels in (MAX_JSON_DEPTH + 1, 500):
        body = {"to": "code_agent", "payload": nested(levels)}
        error = refused(apps, "/handoffs", sender, json=body)
        assert error["field"] == "payload"
        assert error["message"].startswith(f"payload: nested more than {MAX_JSON_DEPTH} levels")
    assert ledger.head() == before
    at_the_cap = apps[0].post(
        "/handoffs", headers=sender, json={"to": "code_agent", "payload": nested(MAX_JSON_DEPTH)}
    )
    assert at_the_cap.status_code == 201, at_the_cap.text


def test_a_result_nested_past_the_cap_is_refused(ledger: Ledger, apps: list[TestClient]) -> None:
    hid = ledger.send(sender="inbox_monitor", to="code_agent").handoff.id
    receiver = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
    before = ledger.head()
    error = refused(
        apps, f"/handoffs/{hid}/complete", receiver, json={"result": nested(MAX_JSON_DEPTH + 1)}
    )
    assert error["field"] == "result"
    assert ledger.head() == before


def test_json_nested_thousands_deep_is_bad_input_not_a_crash(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    before = ledger.head()
    for levels in (1_100, 100_000):
        error = refused(apps, "/handoffs", sender, content=deep_text(levels))
        assert error["field"] == "body", error
    assert ledger.head() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"to": "code_agent", "trigger": "\\ud800"}',
        '{"to": "code_agent", "payload": {"note": "half a pair \\udc00"}}',
        '{"to": "code_agent", "payload": {"\\ud83d": 1}}',
        '{"to": "\\ud800"}',
        '{"to": "code_agent", "key": "k\\udfff"}',
    ],
)
def test_a_lone_surrogate_in_any_text_is_refused(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str], body: str
) -> None:
    before = ledger.head()
    error = refused(apps, "/handoffs", sender, content=body.encode())
    assert "not valid Unicode" in error["message"] or "agent name" in error["message"]
    assert ledger.head() == before


def test_a_duration_that_rounds_to_zero_is_refused(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    before = ledger.head()
    for text in ("0.0000001s", "PT0.0000004S"):
        error = refused(apps, "/handoffs", sender, json={"to": "code_agent", "ack_within": text})
        assert error["field"] == "ack_within"
        assert "shorter than a microsecond" in error["message"]
    assert ledger.head() == before
    one = apps[0].post(
        "/handoffs", headers=sender, json={"to": "code_agent", "ack_within": "0.000001s"}
    )
    assert one.status_code == 201
    assert one.json()["timers"]["ack_due"] is not None  # armed


def test_escalation_targets_are_capped(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    before = ledger.head()
    many = [f"watcher_{n}" for n in range(MAX_ESCALATION_TARGETS + 1)]
    error = refused(apps, "/handoffs", sender, json={"to": "code_agent", "escalate_to": many})
    assert error["field"] == "escalate_to"
    assert ledger.head() == before
    answer = apps[0].post(
        "/handoffs",
        headers=sender,
        json={"to": "code_agent", "escalate_to": many[:-1] + many[:3]},  # repeats count once
    )
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["escalate_to"]) == MAX_ESCALATION_TARGETS


def test_an_empty_key_is_refused_in_the_body_as_in_the_header(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    before = ledger.head()
    for request in (
        {"json": {"to": "code_agent", "key": ""}},
        {"json": {"to": "code_agent", "key": "  "}},
        {"json": {"to": "code_agent"}, "headers": {**sender, "Idempotency-Key": ""}},
        {"json": {"to": "code_agent", "key": ""}, "headers": {**sender, "Idempotency-Key": "k"}},
    ):
        headers = request.pop("headers", sender)
        error = refused(apps, "/handoffs", headers, **request)
        assert error["field"] == "key", error
    assert ledger.head() == before


def test_an_integer_beyond_2_53_is_refused_naming_the_field(
    ledger: Ledger, apps: list[TestClient], sender: dict[str, str]
) -> None:
    """Issue 20: the hash's canonical form (RFC 8785) and JavaScript hold ±(2^53-1) at most."""
    before = ledger.head()
    for value in (2**53, -(2**53)):
        body = {"to": "code_agent", "payload": {"n": [1, value]}}
        error = refused(apps, "/handoffs", sender, json=body)
        assert error["message"].startswith("payload.n.1: "), error
        assert "2^53" in error["message"]
    assert ledger.head() == before
