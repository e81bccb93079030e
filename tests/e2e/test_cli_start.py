"""The CLI starts without the server stacks: importing it with every command (what
``handoff --help`` pays) loads no HTTP, MCP, A2A or dashboard library, and a command
imports only its own module (issue 25, item 4)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from typing import Any

SERVER_STACKS = ("a2a", "fastapi", "google", "httpx", "jinja2", "mcp", "starlette", "uvicorn")

PROBE = (
    "import sys\n"
    "from handoff_ledger.adapters.cli.main import load_commands\n"
    "load_commands()\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
)


def test_the_cli_imports_no_server_stack() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "typer" in loaded  # the probe saw the CLI's own imports
    assert [name for name in SERVER_STACKS if name in loaded] == []


ONE_COMMAND = (
    "import sys\n"
    "from handoff_ledger.adapters.cli.main import load_commands\n"
    "load_commands(sys.argv[1:])\n"
    "print(' '.join(sorted(m for m in sys.modules if m.startswith('handoff_ledger.adapters.cli.'))))"
)


def test_a_command_imports_only_its_own_module() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", ONE_COMMAND, "ack", "ID", "--as", "code_agent"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert "handoff_ledger.adapters.cli.lifecycle" in loaded
    others = ("audit_commands", "serve_commands", "demo", "trace_commands", "digest_commands")
    assert [m for m in others if f"handoff_ledger.adapters.cli.{m}" in loaded] == []


def test_the_table_of_command_modules_is_what_the_modules_register() -> None:
    """Every command and group, by the modules that register it (walked after every
    module of the package is imported, whatever the table says), is in
    ``COMMAND_MODULES`` with exactly those modules."""
    import handoff_ledger.adapters.cli as package
    from handoff_ledger.adapters.cli.app import app
    from handoff_ledger.adapters.cli.main import COMMAND_MODULES

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")

    def modules(typer_app: Any) -> set[str]:
        found = {c.callback.__module__ for c in typer_app.registered_commands}
        for group in typer_app.registered_groups:
            found |= modules(group.typer_instance)
        return found

    registered = {
        (c.name or c.callback.__name__): {c.callback.__module__} for c in app.registered_commands
    }
    registered.update({g.name: modules(g.typer_instance) for g in app.registered_groups})
    prefix = "handoff_ledger.adapters.cli."
    table = {name: {prefix + m for m in found} for name, found in COMMAND_MODULES.items()}
    assert table == registered
