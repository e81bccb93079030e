"""A hash anyone can recompute: new events hash RFC 8785 (JCS) canonical JSON.

docs/audit.md's verifier (Python, run as written) and its JavaScript port
(``verify_export.mjs``, run by node) must agree with the ledger on floats, large
integers and keys outside the Basic Multilingual Plane; a store written before
issue 20 keeps verifying under its old scheme and extends under the new one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI

ROOT = Path(__file__).resolve().parents[2]
PORT = Path(__file__).resolve().parent / "verify_export.mjs"
NODE = shutil.which("node")
V1, V2 = "handoff-ledger/sha256-v1", "handoff-ledger/jcs-sha256-v2"

AWKWARD = {
    "f": 1.0,
    "neg_zero": -0.0,
    "tiny": 1e-7,
    "small": 0.000123,
    "huge": 1e300,
    "big_float": 2.0**60,
    "safe": 9007199254740991,
    "unsafe_low": -9007199254740991,
    "third": 1 / 3,
    "\U0001f600": "astral key",
    "\uffff": "last of the BMP",
    "\ue000": "private use",
    "nested": {"\U0001d11ex": [0.1, 2.5e-8, 1e21], "é": '\u2028\x7f"\\\n'},
}


def python_verifier(export: str) -> subprocess.CompletedProcess[str]:
    page = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    (script,) = re.findall(r"<!-- verifier -->\n```python\n(.*?)```", page, re.S)
    return subprocess.run(
        [sys.executable, "-c", script], input=export, capture_output=True, text=True, check=False
    )


def javascript_verifier(export: str) -> subprocess.CompletedProcess[str]:
    assert NODE, "node is required for the JavaScript verifier"
    return subprocess.run(
        [NODE, str(PORT)], input=export, capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(NODE is None, reason="node not installed")
def test_python_and_javascript_verifiers_agree_with_the_ledger(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    sent = cli.json("send", "--from", "a", "--to", "b", "--payload", json.dumps(AWKWARD))
    cli.run("complete", sent["id"], "--as", "b", "--result", json.dumps({"n": 2.5e-9, "x": 1.0}))
    export = cli.run("export").stdout
    lines = [json.loads(line) for line in export.split("\n") if line]
    assert {line["scheme"] for line in lines} == {V2}
    assert cli.json("audit", "verify")["ok"] is True
    for verifier in (python_verifier, javascript_verifier):
        done = verifier(export)
        assert done.returncode == 0, (verifier.__name__, done.stdout, done.stderr)
        assert done.stdout.splitlines()[-1] == "3 lines, 1 handoffs, 0 problems"
        forged = verifier(export.replace('"tiny": 1e-07', '"tiny": 2e-07'))
        assert forged.returncode == 1, (verifier.__name__, forged.stdout)
        assert "Created: content does not match its hash" in forged.stdout


def test_integers_beyond_2_53_are_refused_at_the_boundary(sqlite_cli: CLI) -> None:
    before = sqlite_cli.stored()
    for value in (2**53, -(2**53), 10**30):
        error = sqlite_cli.json(
            "send", "--from", "a", "--to", "b", "--payload", json.dumps({"n": [value]}), expect=2
        )["error"]
        assert "payload.n.0" in error["message"], error
        assert "2^53" in error["message"], error
    assert sqlite_cli.stored() == before


def test_a_store_from_before_verifies_under_v1_and_extends_under_v2(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    shutil.copy(ROOT / "tests" / "data" / "wave1" / "store.db", store)
    cli = CLI(f"sqlite:///{store}", tmp_path)
    old = [json.loads(line) for line in cli.run("export").stdout.splitlines()]
    assert {line["scheme"] for line in old} == {V1}
    # a new handoff, and a note on an old one: its v2 event links to a v1 hash
    cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--payload", '{"f": 1.0}')
    cli.run("note", old[-1]["handoff_id"], "--as", "inbox_monitor", "--message", "later")
    export = cli.run("export").stdout
    lines = [json.loads(line) for line in export.split("\n") if line]
    assert {line["scheme"] for line in lines} == {V1, V2}
    note = lines[-1]
    previous = [x for x in lines if x["handoff_id"] == note["handoff_id"]][-2]
    assert (note["scheme"], previous["scheme"]) == (V2, V1)
    assert note["prev_hash"] == previous["hash"]
    report = cli.json("audit", "verify")
    assert (report["ok"], report["problems"]) == (True, [])
    done = python_verifier(export)
    assert done.returncode == 0, done.stdout
