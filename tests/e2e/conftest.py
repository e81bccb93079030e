"""Run the real ``handoff`` console script in a subprocess, as a user would."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.urls import POOL_ENV

HANDOFF = str(Path(sys.executable).parent / "handoff")
COLD_CLI_ENV = "HANDOFF_TESTS_COLD_CLI"
"""Set to 1, :meth:`CLI.run` starts each command as a fresh ``handoff`` process."""


class WarmCLI:
    """This test process's :mod:`warm_cli`: started at the first command, stopped at
    exit (and it exits by itself when this process is gone: its stdin closes)."""

    _running: WarmCLI | None = None

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="warm-cli-"))
        self.socket = str(self.folder / "socket")
        env = {k: v for k, v in os.environ.items() if k != "HANDOFF_DEBUG"}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("warm_cli.py")), self.socket],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        assert ready == "ready\n", f"warm_cli did not start: {ready!r}"
        self.count = itertools.count()
        atexit.register(self.stop)

    @classmethod
    def get(cls) -> WarmCLI:
        if cls._running is None or cls._running.process.poll() is not None:
            cls._running = cls()
        return cls._running

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        n = next(self.count)
        out, err = self.folder / f"{n}.out", self.folder / f"{n}.err"
        request = {
            "argv0": HANDOFF, "argv": args, "cwd": str(cwd), "env": env,
            "stdout": str(out), "stderr": str(err),
        }  # fmt: skip
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(self.socket)
            conn.sendall(json.dumps(request).encode() + b"\n")
            answers = conn.makefile("rb")
            pid = int(json.loads(answers.readline())["pid"])
            try:
                status = int(json.loads(answers.readline())["status"])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired([HANDOFF, *args], timeout) from None
        try:
            stdout = out.read_text(encoding="utf-8")
            stderr = err.read_text(encoding="utf-8")
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)
        return subprocess.CompletedProcess([HANDOFF, *args], status, stdout, stderr)


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
        """``handoff ARGS`` as a process of its own, in a forked warm interpreter
        (:mod:`warm_cli`), or started afresh with ``HANDOFF_TESTS_COLD_CLI=1``."""
        if os.environ.get(COLD_CLI_ENV) == "1":
            done = subprocess.run(
                [HANDOFF, *args],
                capture_output=True,
                text=True,
                cwd=self.cwd,
                env=self.env(),
                timeout=120,
                check=False,
            )
        else:
            done = WarmCLI.get().run([*args], cwd=self.cwd, env=self.env(), timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        assert "Traceback" not in done.stdout, done.stdout
        if expect is not None:
            assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self.run(*args, "--json", expect=expect)
        return json.loads(done.stdout)

    def log(self, since: int | None = None) -> list[dict[str, Any]]:
        """The log through ``handoff log --json``; from ``since`` on (a :meth:`mark`),
        only what was recorded after it: a test sharing a store reads its own slice."""
        after = () if since is None else ("--since", str(since))
        done = self.run("log", "--json", *after)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def mark(self) -> int:
        """The store's head: the position of its newest record (0 when empty), read
        in-process. ``log(since=mark)`` and ``stored()[index:]`` start after it."""
        ledger = open_ledger(self.url, clock=self.clock)
        try:
            return ledger.recorder.max_notification_id() or 0
        finally:
            ledger.close()

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    cli: CLI, *extra: str, pool_size: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``handoff serve`` on a free loopback port of ``cli``'s store, once it answers
    (with ``pool_size``, that many connections per pool on PostgreSQL)."""
    port = free_port()
    env = cli.env()
    if pool_size is not None:
        env[POOL_ENV] = str(pool_size)
    process = subprocess.Popen(
        [HANDOFF, "serve", "--port", str(port), *extra],
        env=env,
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("serve did not come up")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err


# ------------------------------------------------- one store and server per module
#
# Starting ``handoff serve`` (and making its store) costs seconds; the server tests
# that need neither an empty store nor a server of their own share one per module
# and store. Each such test names its agents with its own suffix (:func:`names`) and
# reads the log from a :meth:`CLI.mark`, so it sees only what it wrote, in any order.


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A store shared by one module's tests (parametrised: SQLite and PostgreSQL).

    On PostgreSQL, a database of its own, created here and dropped (with whatever
    connections a server still holds) when the module is done.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store')}/ledger.db"
        return
    base = str(request.getfixturevalue("pg_base_url"))  # skips/fails as the session's does
    root, name = base.rsplit("/", 1)
    name = f"{name}_m{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{root}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{root}/{name}"
    finally:
        with psycopg.connect(f"{root}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def module_cli(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> CLI:
    """The CLI on the module's shared store: tests using it must not expect it empty."""
    return CLI(module_store_url, tmp_path_factory.mktemp("cli"))


@dataclass
class Shared:
    """A ``handoff serve`` shared by a module's tests, on :func:`module_cli`'s store."""

    url: str
    cli: CLI
    process: subprocess.Popen[str]


SHARED_POOL_SIZE = 3
"""The shared servers' pools: each holds its connections for its module's life,
beside the servers tests start of their own (about 7 PostgreSQL connections
instead of serve's default 21; max_connections is 100 for the whole machine)."""


@pytest.fixture(scope="module")
def module_server(module_cli: CLI) -> Iterator[Shared]:
    """``handoff serve`` on the module's store (it refuses to start without a token:
    one for an agent no test uses; the tests issue their own, which it reads)."""
    module_cli.issue_tokens("module:fixture")
    process, url = start_server(module_cli, pool_size=SHARED_POOL_SIZE)
    try:
        yield Shared(url=url, cli=module_cli, process=process)
    finally:
        if process.poll() is None:
            stop(process)


def own_names(*agents: str) -> dict[str, str]:
    """Agent names of one test's own: each of ``agents`` with a suffix no other test
    on a shared store uses (``code_agent`` -> ``code_agent.1f2e3d4c``)."""
    suffix = uuid.uuid4().hex[:8]
    return {agent: f"{agent}.{suffix}" for agent in agents}


def own_tokens(cli: CLI, names: dict[str, str], admins: tuple[str, ...] = ()) -> dict[str, str]:
    """A token for each name of ``names`` (those of ``admins`` with admin rights),
    keyed as ``names`` is: by the plain name the test uses."""
    agents = [names[a] for a in names if a not in admins]
    issued = cli.issue_tokens(*agents, admins=tuple(names[a] for a in admins))
    return {plain: issued[name] for plain, name in names.items()}
