"""``make demo`` on a new machine (issue 22, item 11): pip installs only what the demo
needs, and says so while it works; ``make install``/``make test`` add the test tools.

``make -n`` with a fresh ``VENV`` prints what a new clone would run, without running it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str, venv: Path) -> str:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def test_make_demo_installs_only_what_the_demo_needs_and_says_so(tmp_path: Path) -> None:
    demo = planned("demo", tmp_path / "venv")
    installs = [line for line in demo.splitlines() if "pip install" in line]
    assert len(installs) == 1, demo
    assert installs[0].rstrip().endswith(" -e ."), installs  # no [dev]: no test or lint tools
    assert "make: installing handoff-ledger and what it needs to run" in demo
    assert demo.index("make: installing") < demo.index("pip install") < demo.index("handoff demo")


def test_make_install_adds_the_test_tools_and_then_demo_installs_nothing(tmp_path: Path) -> None:
    install = planned("install", tmp_path / "venv")
    assert "-e '.[dev]'" in install
    assert "make: installing handoff-ledger with its test and lint tools" in install
    # After make install (both stamps touched, newer than every source), demo just runs.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    (venv / ".installed-core").touch()
    demo = planned("demo", venv)
    assert "pip install" not in demo, demo
    assert demo.strip().endswith("handoff demo")
