"""``handoff serve`` mounts ``/mcp`` without importing the MCP SDK until a request asks.

Checked in a fresh interpreter (this one may have imported the SDK already): the
app is built and started (its lifespan) and answers ``/healthz`` with no module of
the SDK loaded; the first request to ``/mcp`` loads it and is answered, a request
without a token with the API's 401 document, a trial caller's ``initialize`` with
the server's capabilities. The tools themselves: tests/e2e/test_mcp.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from starlette.testclient import TestClient
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.store.bootstrap import open_ledger

def sdk():
    return sorted(name for name in sys.modules if name == "mcp" or name.startswith("mcp."))

ledger = open_ledger(sys.argv[1], create=True)
seen = {}
with TestClient(create_app(ledger, trial=True), base_url="http://127.0.0.1:8000") as client:
    seen["healthz"] = client.get("/healthz").status_code
    seen["before"] = sdk()
    refused = client.post("/mcp", json={})
    seen["refused"] = [refused.status_code, refused.json()["error"]["code"]]
    seen["after"] = len(sdk())
    hello = client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}},
        headers={"X-Handoff-Agent": "code_agent",
                 "Accept": "application/json, text/event-stream"},
    )
    seen["initialize"] = [hello.status_code, sorted(hello.json()["result"]["capabilities"])]
ledger.close()
print(json.dumps(seen))
"""


def test_the_sdk_is_imported_at_the_first_request_to_mcp(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path}/ledger.db"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["healthz"] == 200
    assert seen["before"] == [], "the MCP SDK was imported before any request to /mcp"
    assert seen["refused"] == [401, "unauthorized"]
    assert seen["after"] > 0, "a request to /mcp did not load the SDK"
    assert seen["initialize"][0] == 200
    assert "tools" in seen["initialize"][1]
