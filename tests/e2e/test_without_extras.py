"""Without the framework extras, the core, the client and ``handoff`` import and run.

The frameworks are installed in the test venv (for test_openai_agents.py and
test_langgraph.py), so a subprocess hides them: a ``sys.meta_path`` finder refuses
every module of theirs, as if ``pip install handoff-ledger`` had not brought them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BLOCKED = ("agents", "openai", "langgraph", "langchain_core")

PROGRAM = """
import importlib, json, pkgutil, sys

BLOCKED = set(sys.argv[1].split(","))


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name.split(".")[0])
        return None


sys.meta_path.insert(0, NotInstalled())
import handoff_ledger

every = sorted(
    module.name
    for module in pkgutil.walk_packages(handoff_ledger.__path__, "handoff_ledger.")
    if not module.name.startswith("handoff_ledger.integrations.")
)
for name in every:
    importlib.import_module(name)
from handoff_ledger.adapters.cli.main import main

errors = {}
for name in ("openai_agents", "langgraph"):
    try:
        importlib.import_module(f"handoff_ledger.integrations.{name}")
    except ImportError as error:
        errors[name] = str(error)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({"imported": every, "errors": errors, "loaded": loaded}), flush=True)
try:
    main(["send", "--from", "inbox_monitor", "--to", "code_agent", "--db", sys.argv[2], "--json"])
except SystemExit as done:
    assert done.code in (0, None), done.code
"""


def test_the_core_client_and_cli_run_without_the_framework_extras(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, ",".join(BLOCKED), f"sqlite:///{tmp_path}/ledger.db"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report, sent = (json.loads(line) for line in done.stdout.splitlines())
    assert {
        "handoff_ledger.client",
        "handoff_ledger.integrations",
        "handoff_ledger.adapters.cli.main",
        "handoff_ledger.adapters.faces.server",
    } <= set(report["imported"])
    assert report["loaded"] == []  # nothing of the frameworks was imported
    assert report["errors"] == {
        "openai_agents": "handoff_ledger.integrations.openai_agents needs the OpenAI Agents SDK"
        " (no module 'agents'): pip install 'handoff-ledger[openai-agents]'",
        "langgraph": "handoff_ledger.integrations.langgraph needs LangGraph"
        " (no module 'langchain_core'): pip install 'handoff-ledger[langgraph]'",
    }
    assert (sent["sender"], sent["receiver"], sent["state"]) == (
        "inbox_monitor",
        "code_agent",
        "requested",
    )
