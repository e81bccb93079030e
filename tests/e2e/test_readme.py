"""The README's quickstart, run exactly as written, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README.md lost its quickstart block"
    return block.group(1)


def test_readme_quickstart_runs_as_written(store_url: str) -> None:
    script = quickstart()
    if store_url.startswith("postgresql"):
        # The README says: set HANDOFF_DB to a postgresql:// URL instead.
        script = re.sub(
            r"^export HANDOFF_DB=.*$", f'export HANDOFF_DB="{store_url}"', script, flags=re.M
        )
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.strip().splitlines()
    shown = json.loads(lines[-1])
    log = [json.loads(line) for line in lines if line.startswith('{"position"')]
    assert [entry["type"] for entry in log] == ["Created", "Acked", "StatusReported", "Completed"]
    assert shown["state"] == "completed"
    assert shown["result"] == {"fix": "PR #412"}
    assert any(line.startswith("HANDOFF_ACK: code_agent received") for line in lines)


def demo_excerpts() -> list[list[str]]:
    """The README's demo output, cut into the runs of lines between its ``...`` lines."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- demo-output -->\s*```text\n(.*?)```", readme, re.S)
    assert block, "README.md lost its demo output block"
    excerpts: list[list[str]] = [[]]
    for line in block.group(1).splitlines():
        if line == "...":
            excerpts.append([])
        else:
            excerpts[-1].append(line)
    return [excerpt for excerpt in excerpts if excerpt]


def test_readme_demo_output_is_what_the_demo_prints() -> None:
    """Each run of lines the README shows is in what ``handoff demo`` prints today, whole
    and in order (the temporary folder's name aside)."""
    env = dict(os.environ)
    env.pop("HANDOFF_DB", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "handoff"), "demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    def folder(text: str) -> str:
        return re.sub(r"handoff-demo-\w+", "handoff-demo-FOLDER", text)

    printed = folder(done.stdout).splitlines()
    excerpts = demo_excerpts()
    assert len(excerpts) >= 3
    at = 0
    for excerpt in excerpts:
        wanted = [folder(line) for line in excerpt]
        found = next(
            (i for i in range(at, len(printed)) if printed[i : i + len(wanted)] == wanted), None
        )
        assert found is not None, f"README's demo output is not what it prints:\n{excerpt[0]}"
        at = found + len(wanted)
