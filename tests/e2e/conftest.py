"""Run the real ``handoff`` console script in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger

HANDOFF = str(Path(sys.executable).parent / "handoff")


class CLI:
    """Runs ``handoff`` against one store and checks no traceback ever leaks.

    With a ``clock``, every command (and a server it starts) reads its time from
    that file, and so do the records this class makes in-process.
    """

    def __init__(self, url: str, cwd: Path, clock: FileClock | None = None) -> None:
        self.url = url
        self.cwd = cwd
        self.clock = clock

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "HANDOFF_DEBUG"}
        env["HANDOFF_DB"] = self.url
        if self.clock is not None:
            env[CLOCK_ENV] = f"file:{self.clock.path}"
        return env

    def run(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [HANDOFF, *args],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=self.env(),
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        assert "Traceback" not in done.stdout, done.stdout
        if expect is not None:
            assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self.run(*args, "--json", expect=expect)
        return json.loads(done.stdout)

    def log(self) -> list[dict[str, Any]]:
        done = self.run("log", "--json")
        return [json.loads(line) for line in done.stdout.splitlines()]

    def stored(self) -> list[tuple[int, str]]:
        """Every record in the store, handoff events or not, as (position, topic).

        For "nothing written" checks: stricter than the log (it sees tokens and
        protocol versions too) and read in-process, because a ``handoff log``
        process per check cost a minute of the suite. ``log --json`` itself is
        tested through :meth:`log`.
        """
        ledger = open_ledger(self.url, clock=self.clock)
        try:
            notifications = ledger.recorder.select_notifications(start=1, limit=1_000_000)
            return [(n.id, n.topic) for n in notifications]
        finally:
            ledger.close()

    def apply_protocol(self, text: str, source: str, by: str = "admin") -> None:
        """What ``protocol apply FILE`` records (``by`` its ``--as`` default), made
        in-process for the fixtures of server tests: the command itself is tested
        through the CLI (test_cli_lifecycle.py, test_cli_errors.py)."""
        ledger = open_ledger(self.url, clock=self.clock)
        try:
            ledger.apply_protocol(text, source=source, by=by)
        finally:
            ledger.close()

    def issue_tokens(self, *agents: str, admins: tuple[str, ...] = ()) -> dict[str, str]:
        """A bearer token per agent (``admins`` too, with admin rights), made in-process.

        For the fixtures of server tests, which need tokens, not the command that
        makes them: five ``handoff`` processes cost seconds per test. ``agents token
        create`` itself is tested through the CLI (test_http.py, test_cli_*.py).
        """
        ledger = open_ledger(self.url, clock=self.clock)
        try:
            tokens = {agent: issue_token(ledger, agent) for agent in agents}
            tokens |= {agent: issue_token(ledger, agent, admin=True) for agent in admins}
            return tokens
        finally:
            ledger.close()


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> CLI:
    """The CLI on a fresh store (parametrised: SQLite and PostgreSQL)."""
    return CLI(store_url, tmp_path)


@pytest.fixture
def sqlite_cli(sqlite_url: str, tmp_path: Path) -> CLI:
    """The CLI on a fresh SQLite file only (for input-checking tests)."""
    return CLI(sqlite_url, tmp_path)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
