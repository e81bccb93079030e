"""The CLI starts without what it does not run (issue 25, item 4): ``handoff --help``
lists every command from the static table of ``adapters/cli/commands.py`` and imports
no command module, no ledger and no server stack; ``handoff ack`` (its help, and a
real ack on a SQLite store) imports ``lifecycle`` alone and no HTTP, MCP, A2A or
dashboard library (nor pydantic or rich, with ``--json``). The table is held equal to
what the modules register, help line by help line, so ``handoff --help`` cannot drift
from the commands."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from typing import Any

from conftest import CLI

from handoff_ledger.adapters.cli.commands import COMMANDS

SERVER_STACKS = ("a2a", "fastapi", "google", "httpx", "jinja2", "mcp", "starlette", "uvicorn")
PREFIX = "handoff_ledger.adapters.cli."
COMMAND_MODULES = sorted({PREFIX + m for entry in COMMANDS.values() for m in entry.modules})

PROBE = """\
import json, os, sys
from handoff_ledger.adapters.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def started(tmp_path: Any, *args: str) -> tuple[int, list[str], str]:
    """Run ``handoff ARGS`` in a new interpreter: its exit code, the modules it had
    imported when it exited, and its stdout."""
    out = tmp_path / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PROBE_OUT": str(out), "COLUMNS": "80"}, check=False,
    )  # fmt: skip
    probe = json.loads(out.read_text())
    return probe["code"], probe["modules"], done.stdout


def stacks(modules: list[str]) -> list[str]:
    return [name for name in SERVER_STACKS if name in {m.split(".")[0] for m in modules}]


def test_help_lists_every_command_without_importing_one(tmp_path: Any) -> None:
    code, modules, shown = started(tmp_path, "--help")
    assert code == 0
    assert all(f" {name} " in shown for name in COMMANDS)
    assert "typer" in modules  # the probe saw the CLI's own imports
    assert [m for m in COMMAND_MODULES if m in modules] == []
    assert [
        m for m in modules if m.startswith(("handoff_ledger.adapters.ledger", "eventsourcing"))
    ] == []
    assert stacks(modules) == []


def test_ack_help_imports_its_own_module_only(tmp_path: Any) -> None:
    code, modules, shown = started(tmp_path, "ack", "--help")
    assert code == 0
    assert "Usage: handoff ack [OPTIONS] ID" in shown
    assert [m for m in COMMAND_MODULES if m in modules] == [PREFIX + "lifecycle"]
    assert stacks(modules) == []


def test_an_ack_on_sqlite_imports_its_own_module_and_no_server_stack(
    sqlite_cli: CLI, tmp_path: Any
) -> None:
    sent = sqlite_cli.json("send", "--as", "inbox_monitor", "--to", "code_agent")
    code, modules, shown = started(
        tmp_path, "ack", sent["id"], "--as", "code_agent", "--db", sqlite_cli.url, "--json"
    )
    assert code == 0
    assert json.loads(shown)["state"] == "acked"
    assert sqlite_cli.json("show", sent["id"])["state"] == "acked"
    assert [m for m in COMMAND_MODULES if m in modules] == [PREFIX + "lifecycle"]
    assert stacks(modules) == []
    # Nor what an ack with --json does not use: Typer's Pydantic coercion (its text
    # and flags are taken as given), rich (no table), multiprocessing (no parallel
    # catch-up), importlib.metadata (no tracing exporter to look up).
    unused = ("pydantic", "rich", "multiprocessing", "importlib.metadata")
    assert [m for m in unused if m in modules] == []


def test_an_unknown_command_is_refused_as_before_with_a_suggestion(tmp_path: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "ak"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PROBE_OUT": str(tmp_path / "probe.json")}, check=False,
    )  # fmt: skip
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["code"] == 2
    assert "No such command 'ak'. Did you mean 'ack'?" in done.stderr
    assert [m for m in COMMAND_MODULES if m in probe["modules"]] == []


def test_the_table_is_what_the_modules_register() -> None:
    """Every command and group the modules register (walked after every module of
    the package is imported, whatever the table says) is in ``COMMANDS`` with exactly
    the modules that register it and the first paragraph of its help, and nothing else
    is."""
    import handoff_ledger.adapters.cli as package
    from handoff_ledger.adapters.cli.app import app, load_command

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")

    def modules(typer_app: Any) -> set[str]:
        found = {c.callback.__module__ for c in typer_app.registered_commands}
        for group in typer_app.registered_groups:
            found |= modules(group.typer_instance)
        return found

    registered = {
        (c.name or c.callback.__name__.replace("_", "-")): {c.callback.__module__}
        for c in app.registered_commands
    }
    registered.update({g.name: modules(g.typer_instance) for g in app.registered_groups})
    assert {name: {PREFIX + m for m in e.modules} for name, e in COMMANDS.items()} == registered
    for name, entry in COMMANDS.items():
        command = load_command(name)
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert (name, entry.help) == (name, first.strip())


REAL_COMMANDS = """\
import sys
from handoff_ledger.adapters.cli import app
from handoff_ledger.adapters.cli.commands import COMMANDS
from handoff_ledger.adapters.cli.main import main

standing_in = app.LazyGroup.__init__

def with_real_commands(self, **attrs):
    standing_in(self, **attrs)
    for name, entry in COMMANDS.items():
        self.commands[name] = app.load_command(name)
        self.commands[name].rich_help_panel = entry.panel

if sys.argv[1] == "real":
    app.LazyGroup.__init__ = with_real_commands
main(["--help"])
"""


def test_help_from_the_table_reads_as_help_from_the_real_commands() -> None:
    def shown(which: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", REAL_COMMANDS, which], capture_output=True, text=True,
            timeout=60, env={**os.environ, "COLUMNS": "80"}, check=True,
        ).stdout  # fmt: skip

    table, real = shown("table"), shown("real")
    assert " a2a-bridge " in table
    assert table == real
