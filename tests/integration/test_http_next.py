"""``GET /agents/{name}/next``: a long poll that takes work, on both stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token


@pytest.fixture
def http(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        yield client


def test_next_takes_the_head_waits_and_refuses_another_agents_work(
    ledger: Ledger, http: TestClient
) -> None:
    coder = {"Authorization": f"Bearer {issue_token(ledger, 'code_agent')}"}
    other = {"Authorization": f"Bearer {issue_token(ledger, 'support_agent')}"}
    started = time.monotonic()
    nothing = http.get("/agents/code_agent/next", params={"wait": "0.3s"}, headers=coder)
    assert (nothing.status_code, nothing.content) == (204, b"")
    assert time.monotonic() - started >= 0.3
    assert http.get("/agents/code_agent/next", headers=other).status_code == 403
    too_long = http.get("/agents/code_agent/next", params={"wait": "2m"}, headers=coder)
    assert (too_long.status_code, too_long.json()["error"]["field"]) == (422, "wait")

    def send_soon() -> None:
        time.sleep(0.3)
        ledger.send(sender="inbox_monitor", to="code_agent", trigger="arrives")

    sender = threading.Thread(target=send_soon)
    sender.start()
    started = time.monotonic()
    taken = http.get(
        "/agents/code_agent/next",
        params={"wait": "30s", "worker": "w1", "next_update": "5m"},
        headers=coder,
    )
    sender.join()
    assert time.monotonic() - started < 20
    assert taken.status_code == 200, taken.text
    document = taken.json()
    assert (document["trigger"], document["taken"], document["worker"], document["state"]) == (
        "arrives",
        "taken",
        "w1",
        "acked",
    )
    again = http.get("/agents/code_agent/next", params={"worker": "w1"}, headers=coder)
    assert (again.json()["id"], again.json()["taken"]) == (document["id"], "resumed")
