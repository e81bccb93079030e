"""Signed anchors: with one taken, what a database writer does before it is reported.

Each attack is made on its own copy of one anchored SQLite store, by a raw SQLite
connection that drops the append-only triggers and puts them back exactly (so the
guard's own check sees nothing), as the owner of the database could. Without an
anchor every one of them passes ``audit verify`` (``problems`` is empty); with the
anchor and the public key kept elsewhere, each is reported.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from handoff_ledger.adapters.ledger.tokens import authenticate, issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.integrity import event_digest
from tests.e2e.conftest import CLI

ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")
PROTOCOL = "[agents.inbox_monitor]\n[agents.code_agent]\n[agents.support_agent]\n"


@contextmanager
def around_the_guard(path: Path) -> Iterator[sqlite3.Connection]:
    """The database writer: triggers dropped, then put back exactly as they were."""
    conn = sqlite3.connect(path, isolation_level=None)
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'stored_events'"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    try:
        yield conn
    finally:
        for _, definition in triggers:
            conn.execute(definition)
        conn.close()


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with handoffs, a protocol, a token and a watch; an anchor over it."""
    root = tmp_path_factory.mktemp("anchored")
    store = root / "store.db"
    cli = CLI(f"sqlite:///{store}", root)
    (root / "p.toml").write_text(PROTOCOL)
    cli.run("protocol", "apply", str(root / "p.toml"))
    done = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    cli.run("complete", done, "--as", "code_agent", "--result", '{"fix": "PR #412"}')
    cli.run("watch", done, "--as", "support_agent")
    cli.run("note", done, "--as", "support_agent", "--message", "thanks")
    cli.run("agents", "token", "create", "code_agent")
    cli.run("audit", "keygen", "--out", str(root / "key"))
    cli.run("audit", "anchor", "--key", str(root / "key"), "--out", str(root / "anchor.json"))
    # later events extend the log: the anchor still holds
    cli.json("send", "--from", "inbox_monitor", "--to", "support_agent")
    return {"root": root, "store": store, "done": done}


def attacked(anchored: dict[str, Any], tmp_path: Path, attack: Callable[..., None]) -> Any:
    """Copy the store, attack the copy, verify it with and without the anchor."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(anchored["store"]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with around_the_guard(copy) as conn:
        attack(conn, copy)
    cli = CLI(f"sqlite:///{copy}", tmp_path)
    root = anchored["root"]
    report = cli.json(
        "audit", "verify", "--anchor", str(root / "anchor.json"),
        "--public-key", str(root / "key.pub"), expect=1,
    )  # fmt: skip
    assert report["problems"] == [], "without the anchor this attack is seen anyway"
    (anchor,) = report["anchors"]
    assert anchor["ok"] is False
    return anchor["problems"]


def rows(conn: sqlite3.Connection, where: str = "1", *args: Any) -> list[Any]:
    return conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        f"WHERE {where} ORDER BY rowid",
        args,
    ).fetchall()


def test_an_untouched_log_extends_its_anchor(anchored: dict[str, Any]) -> None:
    root = anchored["root"]
    cli = CLI(f"sqlite:///{anchored['store']}", root)
    report = cli.json(
        "audit", "verify", "--anchor", str(root / "anchor.json"),
        "--public-key", str(root / "key.pub"),
    )  # fmt: skip
    assert report["ok"] is True
    assert report["anchors"][0]["ok"] is True
    cli.run("audit", "keygen", "--out", str(root / "other"))
    wrong = cli.json(
        "audit", "verify", "--anchor", str(root / "anchor.json"),
        "--public-key", str(root / "other.pub"), expect=1,
    )  # fmt: skip
    assert "signature does not verify" in wrong["anchors"][0]["problems"][0]


def test_a_recomputed_chain_is_reported(anchored: dict[str, Any], tmp_path: Path) -> None:
    def recompute(conn: sqlite3.Connection, path: Path) -> None:
        hid = UUID(anchored["done"])
        rowid, _oid, version, topic, state = rows(conn, "originator_id = ?", hid.hex)[-1]
        document = json.loads(state)
        document["message"] = "never thanked anyone"
        ledger = open_ledger(f"sqlite:///{tmp_path / 'scratch.db'}")
        event = ledger.mapper.to_domain_event(
            StoredEvent(hid, version, topic, json.dumps(document).encode())
        )
        ledger.close()
        fields = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
        document["hash"] = event_digest(
            type_name=type(event).__name__,
            handoff_id=hid,
            version=version,
            at=event.timestamp,
            prev_hash=event.prev_hash,
            data=fields,
        )
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (json.dumps(document).encode(), rowid),
        )

    (problem,) = attacked(anchored, tmp_path, recompute)
    assert "handoff events" in problem


def test_a_tail_cut_with_the_views_row_fixed_is_reported(
    anchored: dict[str, Any], tmp_path: Path
) -> None:
    def cut(conn: sqlite3.Connection, path: Path) -> None:
        hid = UUID(anchored["done"])
        *_, (before, *_), (last, *_) = rows(conn, "originator_id = ?", hid.hex)
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
        conn.execute(
            "UPDATE hl_handoffs SET last_position = ?, last_event = 'Completed' "
            "WHERE handoff_id = ?",
            (before, str(hid)),
        )

    (problem,) = attacked(anchored, tmp_path, cut)
    assert "handoff events" in problem


def test_a_wiped_log_is_reported(anchored: dict[str, Any], tmp_path: Path) -> None:
    def wipe(conn: sqlite3.Connection, path: Path) -> None:
        conn.execute("DELETE FROM stored_events")
        conn.execute("DELETE FROM hl_handoffs")

    problems = attacked(anchored, tmp_path, wipe)
    assert "the log ends at position 0" in problems[0]


def test_an_admin_token_slipped_in_before_the_anchor_is_reported(
    anchored: dict[str, Any], tmp_path: Path
) -> None:
    scratch = open_ledger(f"sqlite:///{tmp_path / 'scratch.db'}")
    secret = issue_token(scratch, "inbox_monitor", admin=True)
    scratch.close()
    with sqlite3.connect(tmp_path / "scratch.db") as source:
        (_, oid, version, topic, state) = rows(source, "topic LIKE '%AgentToken.Issued'")[0]

    def insert(conn: sqlite3.Connection, path: Path) -> None:
        (watch, *_) = rows(conn, "topic LIKE '%ChainWatch%'")[0]
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (watch,))
        conn.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (watch, oid, version, topic, state),
        )

    problems = attacked(anchored, tmp_path, insert)
    assert any("token records" in p for p in problems)
    forged = open_ledger(f"sqlite:///{tmp_path / 'copy.db'}")
    caller = authenticate(forged, secret)
    forged.close()
    assert caller is not None
    assert caller.admin  # the harm: an admin nobody issued


@pytest.mark.parametrize(
    ("topic", "field", "value", "named"),
    [
        ("%AgentToken.Issued", "admin", True, "token records"),
        ("%ProtocolRecord.Created", "text", PROTOCOL + "[agents.mallory]\nadmin = true\n",
         "protocol records"),
    ],
)  # fmt: skip
def test_an_altered_token_or_protocol_record_is_reported(
    anchored: dict[str, Any], tmp_path: Path, topic: str, field: str, value: Any, named: str
) -> None:
    def alter(conn: sqlite3.Connection, path: Path) -> None:
        (rowid, _, _, _, state) = rows(conn, "topic LIKE ?", topic)[0]
        document = json.loads(state)
        document[field] = value
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (json.dumps(document).encode(), rowid),
        )

    (problem,) = attacked(anchored, tmp_path, alter)
    assert named in problem
