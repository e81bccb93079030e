"""The log's guard and its hash chains, on SQLite and PostgreSQL.

The database refuses UPDATE and DELETE on the events table; an attacker who
switches that guard off and rewrites rows by hand is caught by ``audit verify``,
which names the exact event altered, removed or inserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.services.audit import AuditReport, verify_ledger
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.guard import GUARD_MESSAGE, guard_statements, guard_status
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import event_digest
from handoff_ledger.domain.states import Status


def is_sqlite(ledger: Ledger) -> bool:
    return "sqlite" in type(ledger.recorder).__module__


def table(ledger: Ledger) -> str:
    recorder: Any = ledger.recorder
    if is_sqlite(ledger):
        return f'"{recorder.events_table_name}"'
    return f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'


def mark(ledger: Ledger) -> str:
    return "?" if is_sqlite(ledger) else "%s"


def stored_id(ledger: Ledger, handoff_id: UUID) -> str:
    return handoff_id.hex if is_sqlite(ledger) else str(handoff_id)


@contextmanager
def around_the_guard(ledger: Ledger) -> Iterator[Any]:
    """A raw cursor on the events table with the guard off; the guard is back afterwards.

    This is the attacker: an owner of the database who disables the triggers, edits
    rows, and puts the triggers back exactly as they were so that nothing looks amiss
    (the guard's own check cannot see this: the hash chains and anchors must).
    """
    recorder: Any = ledger.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        if is_sqlite(ledger):
            cursor.execute("DROP TRIGGER hl_events_no_update")
            cursor.execute("DROP TRIGGER hl_events_no_delete")
        else:
            cursor.execute(f"ALTER TABLE {table(ledger)} DISABLE TRIGGER hl_events_append_only")
        yield cursor
        if not is_sqlite(ledger):
            cursor.execute(
                f"ALTER TABLE {table(ledger)} ENABLE ALWAYS TRIGGER hl_events_append_only"
            )
    if is_sqlite(ledger):
        with recorder.datastore.transaction(commit=True) as cursor:
            for statement in guard_statements(recorder):
                cursor.execute(statement)
    assert guard_status(recorder).intact


def stored_state(ledger: Ledger, handoff_id: UUID, version: int) -> tuple[int, bytes]:
    """(position, state) of one stored event."""
    position = "rowid" if is_sqlite(ledger) else "notification_id"
    m = mark(ledger)
    with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            f"SELECT {position} AS position, state FROM {table(ledger)} "
            f"WHERE originator_id = {m} AND originator_version = {m}",
            (stored_id(ledger, handoff_id), version),
        )
        row = cursor.fetchone()
    return int(row["position"]), bytes(row["state"])


def run_a_day(ledger: Ledger, clock: SimulatedClock) -> list[Handoff]:
    """Handoffs through every kind of event: acks, reports, escalation, reassignment, notes."""
    done = ledger.send(sender="inbox_monitor", to="code_agent", payload={"email_id": "msg_1"})
    ledger.ack(done.handoff.id, by="code_agent", eta=timedelta(hours=2))
    ledger.report_status(done.handoff.id, by="code_agent", status=Status.PROGRESS, message="ok")
    ledger.complete(done.handoff.id, by="code_agent", result={"fix": "PR #412", "n": 1.5})
    late = ledger.send(
        sender="inbox_monitor",
        to="support_agent",
        ack_within=timedelta(minutes=30),
        escalate_to=["human:me"],
    )
    clock.advance(timedelta(hours=1))
    Reactor(ledger).run_once()
    ledger.reassign(late.handoff.id, by="inbox_monitor", to="backup_agent", reason="no answer")
    ledger.add_note(late.handoff.id, by="human:me", message="Müller asked twice ✓")
    issue_token(ledger, "code_agent")  # other aggregates share the table
    Views(ledger).catch_up()
    return [ledger.get(done.handoff.id), ledger.get(late.handoff.id)]


def problems(report: AuditReport) -> list[tuple[str, str | None, int | None, int | None]]:
    return [(p.problem, p.handoff_id, p.version, p.position) for p in report.problems]


def test_the_events_table_refuses_update_and_delete(ledger: Ledger, clock: SimulatedClock) -> None:
    (done, _) = run_a_day(ledger, clock)
    position, state = stored_state(ledger, done.id, 1)
    statements = [
        f"UPDATE {table(ledger)} SET originator_version = 99",
        f"DELETE FROM {table(ledger)}",
    ]
    if not is_sqlite(ledger):
        statements.append(f"TRUNCATE {table(ledger)}")
    for statement in statements:
        store: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
        with pytest.raises(Exception, match=GUARD_MESSAGE), store.transaction(commit=True) as cur:
            cur.execute(statement)
    assert stored_state(ledger, done.id, 1) == (position, state)
    assert verify_ledger(ledger).ok


def test_verify_passes_a_clean_ledger(ledger: Ledger, clock: SimulatedClock) -> None:
    handoffs = run_a_day(ledger, clock)
    report = verify_ledger(ledger)
    assert report.ok, report.problems
    assert report.handoffs == 2
    assert report.events == sum(h.version for h in handoffs)
    assert report.unsealed == 0
    assert report.guard.intact
    one = verify_ledger(ledger, handoffs[1].id)
    assert (one.ok, one.handoffs, one.events) == (True, 1, handoffs[1].version)


def test_verify_of_an_unknown_handoff_is_bad_input(ledger: Ledger, clock: SimulatedClock) -> None:
    run_a_day(ledger, clock)
    with pytest.raises(UnknownHandoff):
        verify_ledger(ledger, UUID(int=7))


def test_verify_names_the_event_whose_content_was_altered(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    (done, _) = run_a_day(ledger, clock)
    position, state = stored_state(ledger, done.id, 4)  # Completed
    forged = state.replace(b"PR #412", b"PR #666")
    assert forged != state
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"UPDATE {table(ledger)} SET state = {mark(ledger)} WHERE originator_id = "
            f"{mark(ledger)} AND originator_version = 4",
            (forged, stored_id(ledger, done.id)),
        )
    report = verify_ledger(ledger)
    assert problems(report) == [("altered", str(done.id), 4, position)]
    assert "does not match its hash" in report.problems[0].message
    assert not verify_ledger(ledger, done.id).ok


def test_verify_names_a_removed_event(ledger: Ledger, clock: SimulatedClock) -> None:
    (done, _) = run_a_day(ledger, clock)
    next_position, _ = stored_state(ledger, done.id, 3)
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"DELETE FROM {table(ledger)} WHERE originator_id = {mark(ledger)} "
            "AND originator_version = 2",
            (stored_id(ledger, done.id),),
        )
    report = verify_ledger(ledger)
    assert problems(report) == [("removed", str(done.id), 2, next_position)]
    assert "version 2 is missing" in report.problems[0].message


def test_verify_notices_the_last_event_removed(ledger: Ledger, clock: SimulatedClock) -> None:
    """A chain alone cannot see its tail cut off; the views remember where it ended."""
    (_, late) = run_a_day(ledger, clock)
    last_position, _ = stored_state(ledger, late.id, late.version)
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"DELETE FROM {table(ledger)} WHERE originator_id = {mark(ledger)} "
            f"AND originator_version = {late.version}",
            (stored_id(ledger, late.id),),
        )
    report = verify_ledger(ledger)
    assert problems(report) == [("removed", str(late.id), None, last_position)]
    assert "the last one the views saw" in report.problems[0].message


def test_verify_names_an_event_inserted_in_the_middle(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """A forged Acked with a valid hash slipped in at version 2; the rest renumbered."""
    (done, _) = run_a_day(ledger, clock)
    first = next(iter(ledger.events.get(done.id)))
    fields = {"by": "code_agent", "chain_id": done.chain_id, "eta": None, "update_due": None}
    fields |= {"update_every": None, "implicit": False}
    digest = event_digest(
        type_name="Acked",
        handoff_id=done.id,
        version=2,
        at=first.timestamp,
        prev_hash=first.hash,
        data=fields,
    )
    state = json.dumps(
        {
            "timestamp": {"_type_": "datetime_iso", "_data_": first.timestamp.isoformat()},
            "by": "code_agent",
            "chain_id": {"_type_": "uuid_hex", "_data_": done.chain_id.hex},
            "prev_hash": first.hash,
            "hash": digest,
            **{k: v for k, v in fields.items() if k not in ("by", "chain_id")},
        }
    ).encode()
    topic = f"{Handoff.__module__}:Handoff.Acked"
    m = mark(ledger)
    with around_the_guard(ledger) as cursor:
        for version in range(done.version, 1, -1):  # make room at version 2
            cursor.execute(
                f"UPDATE {table(ledger)} SET originator_version = {version + 1} "
                f"WHERE originator_id = {m} AND originator_version = {version}",
                (stored_id(ledger, done.id),),
            )
        columns = "originator_id, originator_version, topic, state"
        values = f"{m}, 2, {m}, {m}"
        if not is_sqlite(ledger):
            # Log format 2 (issue 24) takes no position from a sequence: the forger
            # gives one after the last, as the store's own writers would.
            columns += ", notification_id"
            values += f", (SELECT max(notification_id) + 1 FROM {table(ledger)})"
        cursor.execute(
            f"INSERT INTO {table(ledger)} ({columns}) VALUES ({values})",
            (stored_id(ledger, done.id), topic, state),
        )
    inserted_position, _ = stored_state(ledger, done.id, 2)
    report = verify_ledger(ledger)
    assert ("inserted", str(done.id), 2, inserted_position) in problems(report)
    assert {p.problem for p in report.problems} == {"inserted"}
    assert "was recorded as version 2: 1 event was inserted before it" in report.problems[0].message


def test_verify_catches_a_hash_stripped_to_pass_an_edit_as_old(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    (done, _) = run_a_day(ledger, clock)
    position, state = stored_state(ledger, done.id, 3)
    document = json.loads(state)
    document["message"] = "all fine, nothing to see"
    document.pop("hash")
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"UPDATE {table(ledger)} SET state = {mark(ledger)} WHERE originator_id = "
            f"{mark(ledger)} AND originator_version = 3",
            (json.dumps(document).encode(), stored_id(ledger, done.id)),
        )
    report = verify_ledger(ledger)
    assert ("altered", str(done.id), 3, position) in problems(report)
    assert "carries no hash" in " ".join(p.message for p in report.problems)


@pytest.mark.postgres
def test_a_disabled_guard_is_reported(pg_url: str, clock: SimulatedClock) -> None:
    """PostgreSQL can switch a trigger off (SQLite can only drop it: the next test)."""
    ledger = open_ledger(pg_url, clock=clock)
    run_a_day(ledger, clock)
    with ledger.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"ALTER TABLE {table(ledger)} DISABLE TRIGGER hl_events_append_only")
    report = verify_ledger(ledger)
    ledger.close()
    assert [p.problem for p in report.problems] == ["guard"]
    assert "disabled" in report.problems[0].message


def test_a_dropped_guard_is_reported(ledger: Ledger, clock: SimulatedClock) -> None:
    run_a_day(ledger, clock)
    trigger = "hl_events_no_delete" if is_sqlite(ledger) else "hl_events_no_truncate"
    suffix = "" if is_sqlite(ledger) else f" ON {table(ledger)}"
    with ledger.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"DROP TRIGGER {trigger}{suffix}")
    report = verify_ledger(ledger)
    assert [p.problem for p in report.problems] == ["guard"]
    assert trigger in report.problems[0].message


def test_verify_names_an_event_the_views_read_past_but_never_saw(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """A forged tail with a valid hash chain, put at a position the views had read past.

    The attacker computes the hashes (the scheme is public): only the views can tell
    that no such event was in the log when they read that far.
    """
    (done, late) = run_a_day(ledger, clock)
    ledger.add_note(done.id, by="human:me", message="filed")  # the views read past the token
    Views(ledger).catch_up()
    token = next(
        n for n in ledger.recorder.select_notifications(start=1, limit=1000)
        if n.topic not in HANDOFF_TOPICS and n.originator_id != late.id
        and n.id > stored_state(ledger, late.id, late.version)[0]
    )  # fmt: skip
    forged = ledger.get(late.id)
    forged.add_note(by="human:me", now=clock.now(), message="all settled, nothing to escalate")
    stored = ledger.mapper.to_stored_event(forged.pending_events[0])
    position_column = "rowid" if is_sqlite(ledger) else "notification_id"
    m = mark(ledger)
    with around_the_guard(ledger) as cursor:
        cursor.execute(f"DELETE FROM {table(ledger)} WHERE {position_column} = {m}", (token.id,))
        cursor.execute(
            f"INSERT INTO {table(ledger)} ({position_column}, originator_id, "
            f"originator_version, topic, state) VALUES ({m}, {m}, {m}, {m}, {m})",
            (token.id, stored_id(ledger, late.id), late.version + 1, stored.topic, stored.state),
        )
    report = verify_ledger(ledger)
    assert problems(report) == [("inserted", str(late.id), late.version + 1, token.id)]
    assert "the views read the log past it and never saw it" in report.problems[0].message


def test_verify_names_a_handoff_whose_every_event_was_removed(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    (done, _) = run_a_day(ledger, clock)
    last_position, _ = stored_state(ledger, done.id, done.version)
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"DELETE FROM {table(ledger)} WHERE originator_id = {mark(ledger)}",
            (stored_id(ledger, done.id),),
        )
    report = verify_ledger(ledger)
    assert problems(report) == [("removed", str(done.id), None, last_position)]
    assert "every event is gone from the log" in report.problems[0].message
    assert "Completed" in report.problems[0].message


def test_verify_names_an_event_whose_timestamp_was_edited(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """Backdating a completion: the fields are untouched, only ``timestamp`` moves."""
    (done, _) = run_a_day(ledger, clock)
    position, state = stored_state(ledger, done.id, 4)  # Completed
    document = json.loads(state)
    stamp = document["timestamp"]["_data_"]
    earlier = (datetime.fromisoformat(stamp) - timedelta(hours=3)).isoformat()
    document["timestamp"]["_data_"] = earlier
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"UPDATE {table(ledger)} SET state = {mark(ledger)} WHERE originator_id = "
            f"{mark(ledger)} AND originator_version = 4",
            (json.dumps(document).encode(), stored_id(ledger, done.id)),
        )
    # It took (read from the store: get() would answer from the copy the ledger keeps).
    assert ledger.history(done.id)[-1].timestamp == datetime.fromisoformat(earlier)
    report = verify_ledger(ledger)
    assert problems(report) == [("altered", str(done.id), 4, position)]
    assert "does not match its hash" in report.problems[0].message


def test_verify_names_an_event_whose_topic_was_edited(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    """A decline passed off as the sender's cancellation: same fields, another type."""
    refused = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    ledger.decline(refused.id, by="code_agent", reason="not mine")
    Views(ledger).catch_up()
    declined = ledger.get(refused.id)
    position, _ = stored_state(ledger, refused.id, declined.version)
    m = mark(ledger)
    with around_the_guard(ledger) as cursor:
        cursor.execute(
            f"UPDATE {table(ledger)} SET topic = {m} WHERE originator_id = {m} "
            f"AND originator_version = {m}",
            (get_topic(Handoff.Cancelled), stored_id(ledger, refused.id), declined.version),
        )
    # It took (read from the store: get() would answer from the copy the ledger keeps).
    assert type(ledger.history(refused.id)[-1]).__name__ == "Cancelled"
    report = verify_ledger(ledger)
    assert problems(report) == [("altered", str(refused.id), declined.version, position)]
    assert "(Cancelled, position" in report.problems[0].message
