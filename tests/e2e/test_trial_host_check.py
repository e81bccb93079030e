"""A loopback trial server answers only requests addressed to loopback (DNS rebinding).

``serve --trial`` takes the caller's name from ``X-Handoff-Agent``. A page on another
site whose name was rebound to 127.0.0.1 reaches the server with its own name in
``Host``; every face (the API, the dashboard, ``/mcp``) must refuse it before
anything is read or written.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import CLI
from test_http import start_server, stop

AS_ME = {"X-Handoff-Agent": "me"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {**AS_ME, "Accept": "application/json, text/event-stream"}


@pytest.fixture
def trial(sqlite_cli: CLI) -> Iterator[str]:
    process, url = start_server(sqlite_cli, "--trial")
    try:
        yield url
    finally:
        stop(process)


def test_a_trial_server_refuses_a_host_that_is_not_loopback_on_every_face(
    trial: str, sqlite_cli: CLI
) -> None:
    before = sqlite_cli.stored()
    evil = {"Host": "attacker.example"}
    with httpx.Client(base_url=trial, timeout=30) as http:
        sent = http.post("/handoffs", json={"to": "code_agent"}, headers={**AS_ME, **evil})
        page = http.get("/dashboard/", headers={**AS_ME, **evil})
        mcp = http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **evil})
        rebound_port = http.post(
            "/handoffs", json={"to": "code_agent"}, headers={**AS_ME, "Host": "attacker.example:80"}
        )
    for answer in (sent, page, mcp, rebound_port):
        assert answer.status_code == 421, (answer.request.url, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "misdirected_request"
        assert "attacker.example" in error["message"]
        assert "Traceback" not in answer.text
    assert sqlite_cli.stored() == before


def test_a_trial_server_answers_loopback_names(trial: str, sqlite_cli: CLI) -> None:
    port = trial.rsplit(":", 1)[1]
    with httpx.Client(base_url=trial, timeout=30) as http:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            sent = http.post(
                "/handoffs", json={"to": "code_agent"}, headers={**AS_ME, "Host": host}
            )
            assert sent.status_code == 201, (host, sent.text)
            page = http.get("/dashboard/", headers={"Host": host})
            assert page.status_code == 200, (host, page.text)
            mcp = http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": host})
            assert mcp.status_code == 200, (host, mcp.text)
    assert len(sqlite_cli.log()) == 3


def test_a_trial_server_refuses_another_sites_origin(trial: str, sqlite_cli: CLI) -> None:
    before = sqlite_cli.stored()
    with httpx.Client(base_url=trial, timeout=30) as http:
        sent = http.post(
            "/handoffs",
            json={"to": "code_agent"},
            headers={**AS_ME, "Origin": "http://attacker.example"},
        )
    assert sent.status_code == 403, sent.text
    assert sent.json()["error"]["code"] == "forbidden_origin"
    assert sqlite_cli.stored() == before
