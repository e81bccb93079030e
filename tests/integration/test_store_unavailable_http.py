"""A store that cannot answer in time is 503 ``store_unavailable`` on HTTP, never 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from starlette.testclient import TestClient

from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger


@pytest.fixture
def bounded(store_url: str, clock: SimulatedClock) -> Iterator[tuple[str, Ledger]]:
    """The store with a 1 s lock timeout, and a ledger serving on it."""
    url = store_url + ("&" if "?" in store_url else "?") + "lock_timeout=1"
    opened = open_ledger(url, clock=clock)
    yield store_url, opened
    opened.close()


def test_a_locked_store_answers_503_with_the_cause_and_writes_nothing(
    bounded: tuple[str, Ledger],
) -> None:
    store_url, ledger = bounded
    token = issue_token(ledger, "inbox_monitor")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        before = ledger.head()
        with _locked(store_url):
            for fast_path in (True, False):
                path = "/handoffs" if fast_path else "/handoffs?"  # the query skips the fast path
                sent = client.post(path, json={"to": "code_agent"}, headers=auth)
                assert sent.status_code == 503, sent.text
                error = sent.json()["error"]
                assert error["code"] == "store_unavailable"
                assert "lock" in error["message"]
            if store_url.startswith("postgresql"):  # SQLite readers never wait for a writer
                health = client.get("/healthz")
                assert health.status_code == 503
                assert health.json()["error"]["code"] == "store_unavailable"
        assert ledger.head() == before


class _locked:
    """Another session holding the events table: EXCLUSIVE on SQLite, ACCESS EXCLUSIVE on PG."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: object = None

    def __enter__(self) -> None:
        if self.url.startswith("sqlite"):
            conn = sqlite3.connect(self.url[len("sqlite:///") :], isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            self.conn = conn
            return
        base, _, query = self.url.partition("?")
        schema = query.split("schema=", 1)[1].split("&", 1)[0] if "schema=" in query else "public"
        pg = psycopg.connect(base)
        pg.execute(
            sql.SQL("LOCK TABLE {}.ledger_events IN ACCESS EXCLUSIVE MODE").format(
                sql.Identifier(schema)
            )
        )
        self.conn = pg

    def __exit__(self, *exc: object) -> None:
        conn = self.conn
        if isinstance(conn, sqlite3.Connection):
            conn.execute("ROLLBACK")
            conn.close()
        elif isinstance(conn, psycopg.Connection):
            conn.rollback()
            conn.close()
