"""The stored views against a from-scratch fold of the log, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.adapters.views.store import live_name
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status
from handoff_ledger.projections.base import us
from handoff_ledger.projections.fold import MemoryViews
from handoff_ledger.projections.queues import queue_for
from handoff_ledger.projections.registry import all_projections

AGENTS = ["inbox_monitor", "code_agent", "support_agent", "human:me"]
START_CLOCK = "2026-11-25T09:00:00+00:00"
POLICY_PROTOCOL = """
escalation = [
  { on = "ack_timeout", notify = ["human:me"] },
  { after = "10m", notify = ["human:me"], action = "renotify", every = "4m" },
  { after = "25m", notify = ["human:me"], action = "reassign", to = "support_agent" },
  { on = "update_overdue", notify = ["human:me"], action = "renotify", every = "15m" },
]
[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents."human:me"]
[kinds.review]
trigger = "Review the fix"
"""
"""Free-form handoffs under a default policy with every kind of level (and one kind)."""


def stored_tables(views: Views) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every live view table, keyed like the in-memory fold."""
    tables = {}
    for projection in views.projections:
        for spec in projection.tables:
            rows = views.store.query(f"SELECT * FROM {views.store.dialect.table(live_name(spec))}")
            tables[spec.name] = {
                spec.key_of(row): {c: row.get(c) for c in spec.columns} for row in rows
            }
    return tables


def folded_tables(ledger: Ledger) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """The same tables folded in memory from the whole log, by the same projections."""
    memory = MemoryViews(all_projections())
    for notification in ledger.recorder.select_notifications(
        start=1, limit=10**9, topics=VIEW_TOPICS
    ):
        memory.apply(ledger.mapper.to_domain_event(notification), notification.id)
    return {
        name: {key: {c: row.get(c) for c in table.spec.columns} for key, row in table.rows.items()}
        for name, table in memory.tables.items()
    }


def assert_views_match_fold(ledger: Ledger, views: Views) -> None:
    stored, folded = stored_tables(views), folded_tables(ledger)
    assert stored.keys() == folded.keys()
    for name in stored:
        assert stored[name] == folded[name], f"view table {name} differs from the fold"


@contextmanager
def fresh_store(backend: str, pg_base_url: str | None) -> Iterator[str]:
    """A store of its own for one hypothesis example."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'views.db'}"
        return
    assert pg_base_url is not None
    schema = f"v_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{pg_base_url}?schema={schema}"
    finally:
        with psycopg.connect(pg_base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


commands = st.lists(
    st.tuples(
        st.sampled_from(
            ["send", "send", "send", "ack", "status", "complete", "decline", "cancel",
             "reassign", "note", "watch", "escalate", "tick", "catch_up"]
        ),
        st.integers(min_value=0, max_value=50),
        st.sampled_from(AGENTS),
        st.sampled_from(AGENTS),
        st.sampled_from(list(Priority)),
        st.sampled_from(list(Status)),
    ),
    min_size=5,
    max_size=45,
)  # fmt: skip


def drive(ledger: Ledger, views: Views, clock: SimulatedClock, steps: list[Any]) -> None:
    """Random commands; refusals are part of the game (they must write nothing)."""
    ids: list[uuid.UUID] = []
    for command, pick, agent, other, priority, status in steps:
        target = ids[pick % len(ids)] if ids else None
        try:
            if command == "send" or target is None:
                parent = target if (target is not None and pick % 3 == 0) else None
                sent = ledger.send(
                    sender=agent,
                    to=other
                    if other != agent
                    else "code_agent"
                    if agent != "code_agent"
                    else "inbox_monitor",
                    priority=priority,
                    ack_within=timedelta(minutes=10 + pick),
                    deadline=timedelta(hours=1) if pick % 2 else None,
                    escalate_to=["human:me"] if pick % 4 == 0 else None,
                    parent_id=parent,
                )
                ids.append(sent.handoff.id)
                continue
            handoff = ledger.get(target)
            receiver = handoff.receiver
            if command == "ack":
                ledger.ack(target, by=receiver, next_update=timedelta(minutes=5 + pick))
            elif command == "status":
                ledger.report_status(target, by=receiver, status=status, message=f"m{pick}")
            elif command == "complete":
                ledger.complete(target, by=receiver, result={"n": pick})
            elif command == "decline":
                ledger.decline(target, by=receiver if pick % 5 else agent, reason="busy")
            elif command == "cancel":
                ledger.cancel(target, by=handoff.sender, reason="dup")
            elif command == "reassign":
                ledger.reassign(target, by=handoff.sender, to=other, reason="silent")
            elif command == "note":
                ledger.add_note(target, by=agent, message="fyi")
            elif command == "watch":
                ledger.watch(target, by=agent)
            elif command == "escalate":
                for timer in handoff.due_timers(clock.now()):
                    step = handoff.next_step(timer)
                    if step is not None:
                        ledger.fire_escalation(
                            target, by="reactor", reason=timer.reason, timer_due=timer.due,
                            level=step.level, repeat=step.repeat,
                        )  # fmt: skip
            elif command == "tick":
                clock.advance(timedelta(minutes=pick + 1))
            elif command == "catch_up":
                views.catch_up()
        except HandoffError:
            pass


EVENT_TYPES = {topic.rpartition(".")[2] for topic in VIEW_TOPICS}
"""Every event the views read: each handoff event, and a chain watch started."""


def every_event_once(ledger: Ledger, clock: SimulatedClock) -> None:
    """One of each event the views read, before the random commands: so every example
    checks the views (and the oracles below) against every event type."""

    def send(**kwargs: Any) -> uuid.UUID:
        return ledger.send(sender="inbox_monitor", to="code_agent", **kwargs).handoff.id

    done = send(ack_within=timedelta(minutes=1), escalate_to=["human:me"])
    ledger.ack(done, by="code_agent", eta=timedelta(hours=2), next_update=timedelta(minutes=5))
    review = ledger.send(
        sender="code_agent", to="support_agent", kind="review", parent_id=done,
        deadline=timedelta(hours=1),
    ).handoff.id  # fmt: skip
    ledger.send(sender="support_agent", to="inbox_monitor", parent_id=review)  # a grandchild
    ledger.report_status(done, by="code_agent", status=Status.STUCK, message="no repro")
    ledger.reply(done, by="inbox_monitor", message="try the staging key")
    ledger.watch(done, by="support_agent")
    ledger.add_note(done, by="support_agent", message="fyi")
    ledger.complete(done, by="code_agent", result={"fix": "PR #1"})
    ledger.decline(send(), by="code_agent", reason="busy")
    ledger.cancel(send(), by="inbox_monitor", reason="dup")
    ledger.reassign(send(), by="inbox_monitor", to="support_agent", reason="silent")
    failed = send()
    ledger.ack(failed, by="code_agent", worker="w1", next_update=timedelta(minutes=5))
    ledger.fail(failed, by="code_agent", reason="tried")
    taken = send()
    ledger.ack(taken, by="code_agent", worker="w1", next_update=timedelta(minutes=5))
    silent = send(ack_within=timedelta(minutes=1), escalate_to=["human:me"])
    clock.advance(timedelta(minutes=10))
    ledger.take_over(taken, by="code_agent", worker="w2")
    handoff = ledger.get(silent)
    (timer,) = handoff.due_timers(clock.now())
    step = handoff.next_step(timer)
    assert step is not None
    ledger.fire_escalation(
        silent, by="reactor", reason=timer.reason, timer_due=timer.due,
        level=step.level, repeat=step.repeat,
    )  # fmt: skip
    ledger.ack(silent, by="code_agent")  # late: its ack was due 9 minutes ago


def feeds_from_the_log(ledger: Ledger) -> dict[str, list[tuple[int, str]]]:
    """Who hears what, from the raw log by rules written out again (docs/concepts.md):
    the senders, receivers, escalation targets and watchers of a chain hear every later
    event of it, each from the moment it joined, but not their own; no view code."""
    members: dict[str, set[str]] = {}
    feeds: dict[str, list[tuple[int, str]]] = {}
    for notification in ledger.recorder.select_notifications(
        start=1, limit=10**9, topics=VIEW_TOPICS
    ):
        event = ledger.mapper.to_domain_event(notification)
        kind = type(event).__name__
        chain = members.setdefault(str(event.chain_id), set())
        if kind == "Started":
            chain.add(event.by)
            continue
        if kind == "Created":
            chain.update([event.sender, event.receiver, *event.escalate_to])
        elif kind == "Reassigned":
            chain.add(event.to_receiver)
        elif kind == "Escalated":
            chain.update(event.notified)
        for agent in chain - {event.by}:
            feeds.setdefault(agent, []).append((notification.id, kind))
    return feeds


def micros(moment: datetime | None) -> int | None:
    """A time as whole microseconds since the epoch (written out again, not ``us``)."""
    if moment is None:
        return None
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


Rows = dict[str, dict[str, Any]]


def chains_from_the_log(ledger: Ledger) -> Rows:
    """The ``handoffs`` table of the chains view, one row per handoff: what a handoff
    is now from its aggregate (folded from its own events), what the aggregate does
    not keep (the ack due time after an ack, counts, the last reason, the last
    event) from the raw log; no view code."""
    handoffs: dict[uuid.UUID, Handoff] = {}
    raw: dict[uuid.UUID, dict[str, Any]] = {}
    for entry in ledger.read_log():
        event = entry.event
        hid = event.originator_id
        handoffs[hid] = event.mutate(handoffs.get(hid))
        seen = raw.setdefault(hid, {"escalations": 0, "reassignments": 0, "reason": None})
        kind = type(event).__name__
        if kind in ("Created", "Reassigned"):
            seen["ack_due"] = event.ack_due
        if kind == "Escalated":
            seen["escalations"] += 1
            seen["last_escalation"] = event.timestamp
        if kind == "Reassigned":
            seen["reassignments"] += 1
        if kind in ("Reassigned", "Declined", "Cancelled", "Failed"):
            seen["reason"] = event.reason
        seen |= {"last": kind, "at": event.timestamp, "position": entry.position}
    rows: Rows = {}
    for hid, handoff in handoffs.items():
        seen = raw[hid]
        rows[str(hid)] = {
            "handoff_id": str(hid),
            "chain_id": str(handoff.chain_id),
            "parent_id": None if handoff.parent_id is None else str(handoff.parent_id),
            "sender": handoff.sender,
            "receiver": handoff.receiver,
            "kind": handoff.kind,
            "trigger": handoff.trigger,
            "priority": str(handoff.priority),
            "state": handoff.state.value,
            "status": handoff.status,
            "status_message": handoff.status_message,
            "created_us": micros(handoff.created_on),
            "acked_us": micros(handoff.acked_at),
            "closed_us": micros(handoff.closed_at),
            "ack_due_us": micros(seen["ack_due"]),
            "update_due_us": micros(handoff.update_due),
            "deadline_us": micros(handoff.deadline_due),
            "eta_us": micros(handoff.eta),
            "escalations": seen["escalations"],
            "last_escalation_us": micros(seen.get("last_escalation")),
            "reassignments": seen["reassignments"],
            "reason": seen["reason"],
            "result": handoff.result,  # the view stores it as JSON text
            "last_event": seen["last"],
            "last_event_us": micros(seen["at"]),
            "last_position": seen["position"],
        }
    return rows


def agents_from_the_log(ledger: Ledger) -> tuple[Rows, Rows]:
    """The ``agents`` and ``agent_open`` tables, by the rules docs/cli.md gives for
    ``agents list`` written out again over the raw log, open work from the aggregates;
    no view code. An agent has a row once it sent, received, acked, reported,
    completed, declined, noted or replied."""
    counters = ("received", "sent", "acks_on_time", "acks_late", "completed", "declined",
                "escalations")  # fmt: skip
    board: Rows = {}
    holder: dict[uuid.UUID, str] = {}  # the receiver now
    ack_due: dict[uuid.UUID, datetime | None] = {}  # since it was last (re)assigned
    handoffs: dict[uuid.UUID, Handoff] = {}

    def agent(name: str, seen: datetime | None = None) -> dict[str, Any]:
        row = board.setdefault(
            name,
            {"agent": name, "status": None, "status_message": None, "status_us": None,
             "status_handoff_id": None, "last_seen_us": None, **dict.fromkeys(counters, 0)},
        )  # fmt: skip
        if seen is not None:
            row["last_seen_us"] = micros(seen)
        return row

    for entry in ledger.read_log():
        event = entry.event
        hid = event.originator_id
        handoffs[hid] = event.mutate(handoffs.get(hid))
        kind, at = type(event).__name__, event.timestamp
        if kind == "Created":
            holder[hid], ack_due[hid] = event.receiver, event.ack_due
            agent(event.receiver)["received"] += 1
            agent(event.sender, seen=at)["sent"] += 1
        elif kind == "Reassigned":
            holder[hid], ack_due[hid] = event.to_receiver, event.ack_due
            agent(event.from_receiver)
            agent(event.to_receiver)["received"] += 1
        elif kind == "Acked":
            due = ack_due[hid]
            agent(event.by, seen=at)[
                "acks_late" if due is not None and at > due else "acks_on_time"
            ] += 1
        elif kind == "StatusReported":
            agent(event.by, seen=at).update(
                status=event.status, status_message=event.message, status_us=micros(at),
                status_handoff_id=str(hid),
            )  # fmt: skip
        elif kind == "Escalated":
            agent(holder[hid])["escalations"] += 1
        elif kind in ("Completed", "Declined"):
            agent(event.by, seen=at)[kind.lower()] += 1
        elif kind in ("NoteAdded", "Replied"):
            agent(event.by, seen=at)
    still_open = [h for h in handoffs.values() if h.is_open]
    for row in board.values():
        row["open_count"] = sum(h.receiver == row["agent"] for h in still_open)
    open_rows: Rows = {
        str(h.id): {
            "handoff_id": str(h.id),
            "receiver": h.receiver,
            "created_us": micros(h.created_on),
            "ack_due_us": micros(ack_due[h.id]),
            "acked": int(h.acked_at is not None),
        }
        for h in still_open
    }
    return board, open_rows


def assert_rows(name: str, stored: dict[tuple[Any, ...], dict[str, Any]], expected: Rows) -> None:
    """A view table's stored rows against an oracle's, column by column."""
    got = {key[0]: row for key, row in stored.items()}
    assert sorted(got) == sorted(expected), f"{name}: rows differ"
    wrong = [
        (key, column, got[key][column], value)
        for key, row in expected.items()
        for column, value in row.items()
        if (
            json.loads(got[key][column])
            if column == "result" and got[key][column]
            else got[key][column]
        )
        != value
    ]
    assert wrong == [], (
        f"{name}: {len(wrong)} cells differ (row, column, view, oracle): {wrong[:5]}"
    )
    assert {column for row in got.values() for column in row} == {
        column for row in expected.values() for column in row
    }, f"{name}: the oracle does not cover every column"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=commands, batch=st.integers(min_value=1, max_value=50))
def test_views_equal_a_fold_of_the_log_after_random_commands(
    backend: str, request: pytest.FixtureRequest, steps: list[Any], batch: int
) -> None:
    base = request.getfixturevalue("pg_base_url") if backend == "postgresql" else None
    with fresh_store(backend, base) as url:
        clock = SimulatedClock.from_iso(START_CLOCK)
        ledger = open_ledger(url, clock=clock)
        try:
            views = Views(ledger)
            views.runner.batch_size = batch
            ledger.apply_protocol(POLICY_PROTOCOL, source="handoff.toml", by="human:me")
            every_event_once(ledger, clock)
            drive(ledger, views, clock, steps)
            views.catch_up()
            assert_views_match_fold(ledger, views)
            occurred = {
                n.topic.rpartition(".")[2]
                for n in ledger.recorder.select_notifications(start=1, limit=10**9)
            }
            assert not EVENT_TYPES - occurred, EVENT_TYPES - occurred
            # The notification feeds against rules written out again from the raw log.
            expected_feeds = feeds_from_the_log(ledger)
            for agent in {*AGENTS, "backup_agent", *expected_feeds}:
                got = [
                    (int(row["position"]), row["type"])
                    for row in views.read.notifications(agent, limit=10**6)
                ]
                assert got == expected_feeds.get(agent, []), agent
            # The chains and agents views against oracles that share no view code.
            stored = stored_tables(views)
            chains = chains_from_the_log(ledger)
            assert_rows("handoffs", stored["handoffs"], chains)
            board, open_rows = agents_from_the_log(ledger)
            assert_rows("agents", stored["agents"], board)
            assert_rows("agent_open", stored["agent_open"], open_rows)
            # Every column those oracles compute took a value other than its first.
            for rows, blank in ((chains, (None, 0)), (board, (None, 0)), (open_rows, (None,))):
                for column in next(iter(rows.values())):
                    assert any(row[column] not in blank for row in rows.values()), column
            # And against an oracle that shares no view code: queues from the aggregates.
            handoffs = {}
            for entry in ledger.read_log():
                event = entry.event
                handoffs[event.originator_id] = event.mutate(handoffs.get(event.originator_id))
            # The timers view plans the same next escalation step as each aggregate.
            planned = {
                (row["handoff_id"], row["reason"]): (
                    row["next_level"],
                    row["next_repeat"],
                    row["next_due_us"],
                )
                for row in views.read.timers_of([str(h) for h in handoffs])
            }
            expected_steps = {}
            for handoff in handoffs.values():
                for timer in handoff.timers():
                    step = handoff.next_step(timer)
                    expected_steps[(str(handoff.id), timer.reason.value)] = (
                        (step.level, step.repeat, us(step.due)) if step else (None, None, None)
                    )
            assert planned == expected_steps
            for agent in AGENTS:
                expected = [str(h.id) for h in queue_for(agent, handoffs.values())]
                got = [row["handoff_id"] for row in views.read.inbox(agent)]
                assert got == expected
                for position, hid in enumerate(expected, start=1):
                    assert views.read.queue_position(hid) == position
        finally:
            ledger.close()


def test_ack_position_is_the_inbox_position(ledger: Ledger, clock: SimulatedClock) -> None:
    views = Views(ledger)
    first = ledger.send(sender="a", to="code_agent").handoff
    clock.advance(timedelta(minutes=1))
    urgent = ledger.send(sender="a", to="code_agent", priority=Priority.CRITICAL).handoff
    clock.advance(timedelta(minutes=1))
    later = ledger.send(sender="a", to="code_agent").handoff
    ledger.ack(later.id, by="code_agent")
    views.catch_up()
    inbox = {row["handoff_id"]: row["queue_position"] for row in views.read.inbox("code_agent")}
    assert inbox == {str(urgent.id): 1, str(first.id): 2, str(later.id): 3}
    assert views.read.queue_position(str(later.id)) == 3
    ledger.complete(urgent.id, by="code_agent")
    views.catch_up()
    assert views.read.queue_position(str(later.id)) == 2
    assert views.read.queue_position(str(urgent.id)) is None


def test_overdue_and_notifications(ledger: Ledger, clock: SimulatedClock) -> None:
    views = Views(ledger)
    silent = ledger.send(
        sender="inbox_monitor", to="code_agent", ack_within=timedelta(hours=1),
        escalate_to=["human:me"],
    ).handoff  # fmt: skip
    ledger.watch(silent.id, by="support_agent")
    views.catch_up()
    assert views.read.overdue(now_us(clock)) == []
    clock.advance(timedelta(hours=2))
    ledger.report_status(silent.id, by="code_agent", status=Status.STUCK, message="no repro")
    views.catch_up()
    feed = views.read.notifications("support_agent")
    assert [row["type"] for row in feed] == ["Acked", "StatusReported"]
    assert views.read.notifications("support_agent", after=feed[0]["position"])[0]["type"] == (
        "StatusReported"
    )
    assert [row["type"] for row in views.read.notifications("human:me")] == [
        "Created", "Acked", "StatusReported",
    ]  # fmt: skip
    # code_agent hears of the new handoff, and not of what it did itself.
    assert [row["type"] for row in views.read.notifications("code_agent")] == ["Created"]


def now_us(clock: SimulatedClock) -> int:
    value = us(clock.now())
    assert value is not None
    return value
