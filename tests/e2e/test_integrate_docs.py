"""docs/integrate.md, run as written: the seed scenario with curl and with the Python client,
and the agent frameworks' examples.

Blocks marked ``<!-- curl -->`` run, in order, as one bash script; each block marked
``<!-- python -->`` runs in a Python process of its own (after ``handoff reactor
--once`` when also marked ``<!-- reactor -->``). The server, the tokens and the
protocol are set up as the page's "Set up once" says, on a free port. The framework
blocks (``<!-- agents-sdk -->``, ``<!-- langgraph -->``, ``<!-- mcp-host -->``) each run
in a Python process of their own on a server without a protocol, with ``HANDOFF_TOKENS``
as their section says; their printed lines are the page's ``text`` block after them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLI
from test_http import start_server, stop

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"((?:<!-- [\w-]+ -->\n)+)```(\w+)\n(.*?)```", re.S)
FRAMEWORK_AGENTS = [
    "inbox_monitor",
    "triage",
    "code_agent",
    "support_agent",
    "ops_agent",
    "reviewer",
]


def blocks(marker: str) -> list[tuple[set[str], str]]:
    """The page's code blocks carrying ``marker``: (their markers, their text)."""
    page = (ROOT / "docs" / "integrate.md").read_text(encoding="utf-8")
    found = [
        (set(re.findall(r"<!-- ([\w-]+) -->", marks)), code)
        for marks, _, code in BLOCK.findall(page)
    ]
    chosen = [(marks, code) for marks, code in found if marker in marks]
    assert chosen, f"docs/integrate.md lost its {marker} blocks"
    return chosen


@pytest.fixture
def env(cli: CLI) -> Iterator[dict[str, str]]:
    """The environment the page's setup leaves: store, API, one token per agent."""
    (cli.cwd / "handoff.toml").write_text(blocks("protocol")[0][1], encoding="utf-8")
    cli.run("protocol", "apply", "handoff.toml", "--as", "human:me")
    environment = cli.env()
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    for variable, agent in [
        ("INBOX_TOKEN", "inbox_monitor"),
        ("CODE_TOKEN", "code_agent"),
        ("SUPPORT_TOKEN", "support_agent"),
    ]:
        environment[variable] = cli.json("agents", "token", "create", agent)["token"]
    process, url = start_server(cli)
    environment["API"] = url
    try:
        yield environment
    finally:
        stop(process)


def run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_the_curl_way_runs_as_written(env: dict[str, str], cli: CLI) -> None:
    script = "\n".join(code for _, code in blocks("curl"))
    out = run(["bash", "-euo", "pipefail", "-c", script], env, cli.cwd).splitlines()
    assert '["Acked","StatusReported","Completed"]' in out
    assert out[-3:] == [
        '["bug_report","inbox_monitor","code_agent","completed"]',
        '["customer_reply","code_agent","inbox_monitor","completed"]',
        '["final_review","inbox_monitor","support_agent","requested"]',
    ]
    assert [e["type"] for e in cli.log()].count("Created") == 3


def test_the_python_way_runs_as_written(env: dict[str, str], cli: CLI) -> None:
    out: list[str] = []
    for marks, code in blocks("python"):
        if "reactor" in marks:
            cli.run("reactor", "--once")
        out += run([sys.executable, "-c", code], env, cli.cwd).splitlines()
    assert out[0].startswith("HANDOFF ")
    assert out[0].split()[2:4] == ["code_agent", "medium"]
    assert out[1].startswith("HANDOFF_ACK 1 ")
    assert out[2:] == [
        "completed",
        "['Acked', 'StatusReported', 'Completed', 'Created']",
        "Fixed in today's release: please update the app.",
        "409 invalid_state",
        "[('bug_report', 'completed'), ('customer_reply', 'completed'), ('final_review', 'acked')]",
    ]


def printed_after(marker: str) -> list[str]:
    """The ``text`` block the page shows after its ``marker`` block: what it prints."""
    page = (ROOT / "docs" / "integrate.md").read_text(encoding="utf-8")
    after = page.split(f"<!-- {marker} -->", 1)[1].split("```text\n", 1)[1]
    return after.split("```", 1)[0].splitlines()


@pytest.fixture(scope="module")
def framework_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CLI, dict[str, str]]]:
    """Section 5's server and environment (API, HANDOFF_DB, HANDOFF_TOKENS; no protocol),
    one for its three examples: each checks only the log entries it added."""
    folder = tmp_path_factory.mktemp("frameworks")
    cli = CLI(f"sqlite:///{folder}/ledger.db", folder)
    environment = cli.env()
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["HANDOFF_TOKENS"] = json.dumps(cli.issue_tokens(*FRAMEWORK_AGENTS))
    process, url = start_server(cli)
    environment["API"] = url
    try:
        yield cli, environment
    finally:
        stop(process)


@pytest.mark.parametrize("marker", ["agents-sdk", "langgraph", "mcp-host"])
def test_the_framework_examples_run_as_written(
    framework_server: tuple[CLI, dict[str, str]], marker: str
) -> None:
    cli, environment = framework_server
    [(_, code)] = blocks(marker)
    before = len(cli.log())
    out = run([sys.executable, "-c", code], environment, cli.cwd).splitlines()
    assert out == printed_after(marker)
    added = cli.log()[before:]
    created = [(e["by"], e["receiver"]) for e in added if e["type"] == "Created"]
    assert (
        created
        == {
            "agents-sdk": [
                ("inbox_monitor", "triage"),
                ("triage", "code_agent"),
                ("code_agent", "ops_agent"),
                ("code_agent", "support_agent"),
            ],
            "langgraph": [("triage", "code_agent"), ("code_agent", "reviewer")],
            "mcp-host": [("code_agent", "support_agent")],
        }[marker]
    )
