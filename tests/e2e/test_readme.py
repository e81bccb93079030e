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
