"""A store that fails cleanly: reads never create one, a lost store is its own exit code.

Exit 2 (``no_ledger``, ``invalid_input``): the URL is wrong or holds no ledger.
Exit 4 (``store_unavailable``): the store is there but cannot answer in time.
"""

from __future__ import annotations

import os

from conftest import CLI

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


# ------------------------------------------------- items 10 and 11: bad URLs are bad input


def test_an_in_memory_sqlite_url_is_refused(sqlite_cli: CLI) -> None:
    for url in ("sqlite:///:memory:", "sqlite:///x.db?mode=memory"):
        done = sqlite_cli.run("send", "--from", "a", "--to", "b", "--db", url, expect=2)
        assert "in-memory SQLite database keeps nothing" in done.stderr


def test_a_malformed_postgres_url_is_bad_input(sqlite_cli: CLI) -> None:
    done = sqlite_cli.run("log", "--db", "postgresql://u@[::1/x", expect=2)
    assert "is not a valid URL" in done.stderr
