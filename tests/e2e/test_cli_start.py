"""The CLI starts without the server stacks: importing it (what every command and
``handoff --help`` pay) loads no HTTP, MCP, A2A or dashboard library (issue 25)."""

from __future__ import annotations

import subprocess
import sys

SERVER_STACKS = ("a2a", "fastapi", "google", "httpx", "jinja2", "mcp", "starlette", "uvicorn")

PROBE = (
    "import sys, handoff_ledger.adapters.cli.main\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
)


def test_the_cli_imports_no_server_stack() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "typer" in loaded  # the probe saw the CLI's own imports
    assert [name for name in SERVER_STACKS if name in loaded] == []
