"""Fixtures shared by every layer of tests: clocks, stores, ledgers.

Stores are real: a SQLite file in a temporary folder, and a PostgreSQL database
created for this test session (each test gets its own schema, dropped afterwards).
Under ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger

PG_HOST = os.environ.get("HANDOFF_TEST_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("HANDOFF_TEST_PG_USER", "postgres")
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        dbname="postgres", host=PG_HOST, user=PG_USER, autocommit=True, connect_timeout=5
    )


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """A PostgreSQL database of our own for this session; dropped at the end."""
    try:
        admin = _admin_connection()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}: {exc}")
    name = f"handoff_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:5432/{name}"
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A fresh schema in the session's PostgreSQL database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{pg_base_url}?schema={schema}"
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A SQLite file in this test's temporary folder."""
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> SimulatedClock:
    """Simulated time starting at 09:00 UTC on the day of the seed scenario."""
    return SimulatedClock(START)


@pytest.fixture
def ledger(store_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    """A ledger on a fresh store, driven by the simulated clock."""
    opened = open_ledger(store_url, clock=clock)
    yield opened
    opened.close()
