"""A store that fails cleanly: reads never create one, a lost store is its own exit code.

Exit 2 (``no_ledger``, ``invalid_input``): the URL is wrong or holds no ledger.
Exit 4 (``store_unavailable``): the store is there but cannot answer in time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import CLI, HANDOFF
from psycopg import sql

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.notified_watch import APPLICATION_NAME as WATCH
from handoff_ledger.adapters.views import Views

PG_HOST = os.environ.get("HANDOFF_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("HANDOFF_TEST_PG_USER", "postgres")

READS = (
    ("log",),
    ("show", "3e688442-8f76-5ea9-b22a-22d4beb5285a"),
    ("inbox", "code_agent"),
    ("overdue",),
    ("audit", "verify"),
    ("export",),
    ("protocol", "show"),
    ("projections", "status"),
    ("agents", "token", "list"),
    ("projections", "rebuild"),
)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dbname="postgres", host=PG_HOST, user=PG_USER, autocommit=True)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A database of its own: what a command creates in ``public`` is seen, and counted."""
    try:
        admin = _admin()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"handoff_store_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with _admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _objects_in_public(dbname: str) -> list[str]:
    """Every table, type, function and trigger a command may have left in ``public``."""
    with psycopg.connect(dbname=dbname, host=PG_HOST, user=PG_USER, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT 'rel ' || relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE nspname = 'public'"
            " UNION ALL SELECT 'type ' || typname FROM pg_type t"
            " JOIN pg_namespace n ON n.oid = t.typnamespace WHERE nspname = 'public'"
            " UNION ALL SELECT 'proc ' || proname FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
            " UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def _error(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(json.loads(done.stdout)["error"])


# ----------------------------------------------------------------- item 9: reads never create


def test_a_read_in_an_empty_folder_says_there_is_no_ledger_and_creates_no_file(
    tmp_path: Path,
) -> None:
    cli = CLI("", tmp_path)  # no --db, no HANDOFF_DB: the default ./handoff.db
    for command in READS:
        done = cli.run(*command, expect=2)
        assert "sqlite:///handoff.db holds no ledger" in done.stderr, (command, done.stderr)
        assert "handoff init" in done.stderr
    assert _error(cli.run("log", "--json", expect=2))["code"] == "no_ledger"
    assert list(tmp_path.iterdir()) == []


def test_a_read_on_an_empty_postgres_database_names_it_and_writes_nothing(
    pg_database: str, tmp_path: Path
) -> None:
    url = f"postgresql://{PG_USER}@{PG_HOST}:5432/{pg_database}"
    cli = CLI(url, tmp_path)
    for command in READS:
        done = cli.run(*command, expect=2)
        assert f"{url} holds no ledger" in done.stderr, (command, done.stderr)
    schema = cli.run("log", "--db", f"{url}?schema=team_a", expect=2)
    assert "holds no ledger" in schema.stderr
    assert _objects_in_public(pg_database) == []
    with psycopg.connect(dbname=pg_database, host=PG_HOST, user=PG_USER) as conn:
        found = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'team_a'")
        assert found.fetchone() == (0,)


def test_init_creates_the_store_once_and_says_what_it_did(cli: CLI) -> None:
    first = cli.json("init")
    assert first["created"] is True
    assert first["head"] == 0
    assert cli.log() == []
    cli.run("send", "--from", "a", "--to", "b")
    again = cli.json("init")
    assert again["created"] is False
    logged = cli.log()
    assert len(logged) == 1
    # The head is the one event's position (1 on SQLite; on PostgreSQL a position
    # drawn from its transaction's id, docs/concepts.md#positions).
    assert again["head"] == logged[0]["position"] > 0
    assert "already holds a ledger" in cli.run("init").stdout


def test_a_write_still_creates_the_store(sqlite_cli: CLI) -> None:
    sqlite_cli.run("send", "--from", "a", "--to", "b")
    assert [entry["type"] for entry in sqlite_cli.log()] == ["Created"]


def test_serve_and_mcp_refuse_a_missing_store(tmp_path: Path) -> None:
    cli = CLI(f"sqlite:///{tmp_path}/missing.db", tmp_path)
    serve = cli.run("serve", "--port", "0", expect=2)
    assert "holds no ledger" in serve.stderr
    mcp = cli.run("mcp", "--agent", "code_agent", expect=2)
    assert "holds no ledger" in mcp.stderr
    assert not (tmp_path / "missing.db").exists()


# ------------------------------------------------- items 10 and 11: bad URLs are bad input


def test_an_in_memory_sqlite_url_is_refused(sqlite_cli: CLI) -> None:
    for url in ("sqlite:///:memory:", "sqlite:///x.db?mode=memory"):
        done = sqlite_cli.run("send", "--from", "a", "--to", "b", "--db", url, expect=2)
        assert "in-memory SQLite database keeps nothing" in done.stderr


def test_a_malformed_postgres_url_is_bad_input(sqlite_cli: CLI) -> None:
    done = sqlite_cli.run("log", "--db", "postgresql://u@[::1/x", expect=2)
    assert "is not a valid URL" in done.stderr
    zero = sqlite_cli.run("log", "--db", "postgresql://u@h/x?lock_timeout=0", expect=2)
    assert "lock_timeout must be at least 1" in zero.stderr


def test_a_missing_postgres_database_is_bad_input(sqlite_cli: CLI) -> None:
    url = f"postgresql://{PG_USER}@{PG_HOST}:5432/no_such_db_{uuid.uuid4().hex[:6]}"
    done = sqlite_cli.run("log", "--db", url, expect=2)
    assert "does not exist" in done.stderr


# ------------------------------------------------ items 11 and 12: a store that is unavailable


def test_a_locked_sqlite_store_is_unavailable_with_exit_4(sqlite_cli: CLI, tmp_path: Path) -> None:
    sqlite_cli.run("init")
    path = sqlite_cli.url[len("sqlite:///") :]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        url = f"{sqlite_cli.url}?lock_timeout=1"
        done = sqlite_cli.run("send", "--from", "a", "--to", "b", "--db", url, "--json", expect=4)
        error = _error(done)
        assert error["code"] == "store_unavailable"
        assert "database is locked" in error["message"]
        assert sqlite_cli.url in error["message"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sqlite_cli.log() == []


def test_an_unreachable_postgres_is_unavailable_with_exit_4(sqlite_cli: CLI) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2"
    done = sqlite_cli.run("log", "--db", url, "--json", expect=4)
    error = _error(done)
    assert error["code"] == "store_unavailable"
    assert "postgresql://postgres@127.0.0.1:1/nothing" in error["message"]


def _run_bounded(cli: CLI, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``handoff``; a subprocess timeout far above the 1 s bound proves it returned."""
    return subprocess.run(
        [HANDOFF, *args],
        capture_output=True,
        text=True,
        cwd=cli.cwd,
        env=cli.env(),
        timeout=60,
        check=False,
    )


@pytest.mark.postgres
def test_a_table_locked_by_another_session_fails_within_the_lock_timeout(
    pg_url: str, tmp_path: Path
) -> None:
    cli = CLI(pg_url, tmp_path)
    cli.run("send", "--from", "a", "--to", "b")
    schema = pg_url.rsplit("schema=", 1)[1]
    bounded = f"{pg_url}&lock_timeout=1"
    base = pg_url.split("?", 1)[0]
    with psycopg.connect(base) as holder:
        holder.execute(
            sql.SQL("LOCK TABLE {}.ledger_events IN ACCESS EXCLUSIVE MODE").format(
                sql.Identifier(schema)
            )
        )
        for command in (("log",), ("send", "--from", "a", "--to", "c"), ("inbox", "b")):
            started = time.monotonic()
            done = _run_bounded(cli, *command, "--db", bounded, "--json")
            took = time.monotonic() - started
            assert done.returncode == 4, (command, done.returncode, done.stdout, done.stderr)
            # One wait of the 1 s bound, plus the process's start on a loaded machine;
            # not one per retry (the views' catch-up retried it twenty times: 21 s).
            assert took < 10, (command, took)
            error = _error(done)
            assert error["code"] == "store_unavailable"
            assert "lock timeout" in error["message"]
        holder.rollback()
    assert [entry["receiver"] for entry in cli.log()] == ["b"]


# --------------------------------------------------------------- item 13: the pool's size


@pytest.mark.postgres
def test_a_burst_of_concurrent_work_uses_at_most_pool_size_connections(pg_database: str) -> None:
    url = f"postgresql://{PG_USER}@{PG_HOST}:5432/{pg_database}"
    ledger = open_ledger(url)
    views = Views(ledger)
    counts: list[int] = []
    listening: list[int] = []
    stop = threading.Event()

    def count() -> None:
        with _admin() as admin:
            while not stop.is_set():
                # The protocol watch's one LISTEN connection (docs/architecture.md,
                # "Caches") is counted apart, by its name (its query is '' while it
                # connects): the pool's connections are the rest.
                row = admin.execute(
                    "SELECT count(*) FILTER (WHERE application_name <> %s), "
                    "count(*) FILTER (WHERE application_name = %s) "
                    "FROM pg_stat_activity WHERE datname = %s",
                    (WATCH, WATCH, pg_database),
                ).fetchone()
                counts.append(int(row[0]) if row else 0)
                listening.append(int(row[1]) if row else 0)
                stop.wait(0.005)

    catching_up = threading.Lock()  # one catch-up at a time, as a server's requests do

    def work(index: int) -> None:
        for n in range(15):
            ledger.send(sender=f"s{index}", to="r", payload={"n": n})
            with catching_up:
                views.catch_up()
            views.read.inbox("r", limit=1)
            ledger.head()

    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        stop.set()
        watcher.join()
        ledger.close()
    assert counts
    assert max(counts) <= 2, max(counts)
    assert max(listening) <= 1, max(listening)


# ------------------------------------------------------ item 14: a read-only evidence copy


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_copy_can_be_audited_and_stays_byte_identical(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    sent = sqlite_cli.json("send", "--from", "a", "--to", "b")
    sqlite_cli.run("ack", sent["id"], "--as", "b")
    sqlite_cli.run("inbox", "b")  # the views exist in the copy too
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    copy = evidence / "copy.db"
    source = sqlite3.connect(sqlite_cli.url[len("sqlite:///") :])
    target = sqlite3.connect(copy)
    source.backup(target)
    target.close()
    source.close()
    copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # 0444
    evidence.chmod(0o555)
    before = _digest(copy)
    try:
        urls = [f"sqlite:///{copy}?mode=ro"]
        if os.geteuid() != 0:  # root writes through chmod: only ?mode=ro stops it there
            urls.append(f"sqlite:///{copy}")
        for url in urls:
            audit = sqlite_cli.json("audit", "verify", "--db", url)
            assert audit["ok"] is True
            log = sqlite_cli.run("log", "--json", "--db", url).stdout.splitlines()
            assert [json.loads(line)["type"] for line in log] == ["Created", "Acked"]
            assert sqlite_cli.json("show", sent["id"], "--db", url)["state"] == "acked"
            export = sqlite_cli.run("export", "--db", url).stdout.splitlines()
            assert len(export) == 2
            replay = sqlite_cli.json("replay", "--until", "2099-01-01T00:00:00Z", "--db", url)
            assert replay["events"] == 2
            refused = sqlite_cli.run("send", "--from", "a", "--to", "b", "--db", url, expect=2)
            assert "read-only" in refused.stderr
        assert sorted(p.name for p in evidence.iterdir()) == ["copy.db"]
        assert _digest(copy) == before
    finally:
        evidence.chmod(0o755)
