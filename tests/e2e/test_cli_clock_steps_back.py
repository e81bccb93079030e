"""A clock that steps back, through the real console script (issue 15, item 8).

The clock file reads 10:00, then 12:00, then 09:00 (NTP stepped it back), so the log
holds, in log order: A created at 10:00, B created at 12:00, C created at 09:00, and
A's ack, which the clock read at 09:00 but A's history already stood at 10:00, so it
is recorded at 10:00 with ``clamped_from`` 09:00. Windows filter the whole log by
recorded time; as-of answers fold each handoff's events recorded at or before T.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI

from handoff_ledger.adapters.ledger.clock import FileClock

DAY = "2026-11-25T"


def at(clock_time: str) -> str:
    return f"{DAY}{clock_time}:00Z"


def moment(clock_time: str) -> datetime:
    return datetime.fromisoformat(at(clock_time))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def stepped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CLI, dict[str, str]]:
    """One store written while the clock read 10:00, 12:00, then 09:00."""
    folder = tmp_path_factory.mktemp("stepped")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/ledger.db"
    else:
        url = f"{request.getfixturevalue('pg_base_url')}?schema=stepped_{uuid.uuid4().hex[:10]}"
    clock = FileClock(Path(folder) / "clock")
    cli = CLI(url, Path(folder), clock)
    clock.set(moment("10:00"))
    a = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--ack-within", "1h")
    clock.set(moment("12:00"))
    b = cli.json("send", "--from", "support_agent", "--to", "human:me")
    clock.set(moment("09:00"))
    c = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    cli.json("ack", a["id"], "--as", "code_agent", "--next-update", "30m")
    return cli, {"A": a["id"], "B": b["id"], "C": c["id"]}


def named(entries: list[dict[str, Any]], ids: dict[str, str]) -> list[tuple[str, str, str]]:
    names = {v: k for k, v in ids.items()}
    return [(e["type"], names[e["handoff_id"]], e["at"]) for e in entries]


def test_an_ack_read_before_the_handoff_last_event_is_recorded_at_that_events_time(
    stepped: tuple[CLI, dict[str, str]],
) -> None:
    cli, ids = stepped
    shown = cli.json("show", ids["A"])
    created, acked = shown["history"]
    assert (created["type"], created["at"]) == ("Created", at("10:00"))
    assert (acked["type"], acked["at"], acked["clamped_from"]) == (
        "Acked",
        at("10:00"),
        at("09:00"),
    )
    assert "clamped_from" not in created
    assert acked["update_due"] == at("10:30")  # timers count from the recorded time
    assert cli.json("audit", "verify")["problems"] == []


def test_log_until_reads_past_a_later_event_to_the_earlier_ones_after_it(
    stepped: tuple[CLI, dict[str, str]],
) -> None:
    cli, ids = stepped
    done = cli.run("log", "--until", at("11:00"), "--json")
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert named(entries, ids) == [
        ("Created", "A", at("10:00")),
        ("Created", "C", at("09:00")),
        ("Acked", "A", at("10:00")),
    ]
    done = cli.run("log", "--since", at("09:30"), "--until", at("11:00"), "--json")
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert named(entries, ids) == [("Created", "A", at("10:00")), ("Acked", "A", at("10:00"))]


def test_export_until_reads_the_whole_log(stepped: tuple[CLI, dict[str, str]]) -> None:
    cli, ids = stepped
    done = cli.run("export", "--until", at("11:00"))
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    names = {v: k for k, v in ids.items()}
    assert [(line["type"], names[line["handoff_id"]]) for line in lines] == [
        ("Created", "A"),
        ("Created", "C"),
        ("Acked", "A"),
    ]


def test_digest_window_holds_every_event_recorded_in_it_whatever_the_log_order(
    stepped: tuple[CLI, dict[str, str]],
) -> None:
    cli, ids = stepped
    digest = cli.json("digest", "--since", at("08:00"), "--until", at("11:00"))
    names = {v: k for k, v in ids.items()}
    assert [(e["type"], names[e["id"]]) for e in digest["passed"]] == [
        ("Created", "A"),
        ("Created", "C"),
    ]
    assert digest["counts"]["created"] == 2


def test_as_of_folds_each_handoffs_events_recorded_at_or_before_the_time(
    stepped: tuple[CLI, dict[str, str]],
) -> None:
    cli, ids = stepped
    # A's history starts at 10:00 (its ack, read at 09:00, is recorded at 10:00).
    refused = cli.json("show", ids["A"], "--as-of", at("09:30"), expect=2)
    assert "did not exist yet" in refused["error"]["message"]
    assert cli.json("show", ids["A"], "--as-of", at("10:00"))["state"] == "acked"
    # C, created at 09:00 after B's 12:00 in log order, existed at 09:30.
    assert cli.json("show", ids["C"], "--as-of", at("09:30"))["state"] == "requested"
    inbox = cli.json("inbox", "code_agent", "--as-of", at("09:30"))
    assert [h["id"] for h in inbox["handoffs"]] == [ids["C"]]
    inbox = cli.json("inbox", "code_agent", "--as-of", at("11:00"))
    # The queue orders by recorded creation time: C (09:00) before A (10:00).
    assert [(h["id"], h["state"]) for h in inbox["handoffs"]] == [
        (ids["C"], "requested"),
        (ids["A"], "acked"),
    ]
    replayed = cli.json("replay", "--until", at("09:30"), "--view", "queues")
    assert replayed["events"] == 1  # C's creation, read after B's 12:00
    overdue = cli.json("overdue", "--as-of", at("11:00"))
    assert [(o["id"], o["reason"]) for o in overdue["overdue"]] == [(ids["A"], "update_overdue")]
