"""``protocol simulate``: the six-hour test's log replayed under another protocol.

The log is built by the six-hour test's own generator (``send_some`` and ``act``, same
seed), with the reactor run in-process once per five-minute step on a simulated clock
instead of as killed-and-restarted processes: the agents' moves are the same, and two
runs of it differ only by the protocol they were given.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.protocol import Protocol
from tests.integration.test_six_hours import SENDS_PER_STEP, START, STEP, act, send_some

STEPS = 48  # four of the six hours: every reason escalates, and the suite stays quick
SEED = 20261125

EXTRA_LEVEL = SEED_PROTOCOL.replace(
    '  { after = "1h", notify = ["human:me"], action = "reassign", to = "backup_agent" },\n',
    '  { after = "1h", notify = ["human:me"], action = "reassign", to = "backup_agent" },\n'
    '  { on = "update_overdue", notify = ["human:me"] },\n'
    '  { after = "30m", notify = ["support_agent"] },\n',
)
"""The seed protocol with one more notify-only level: a bug report still silent half
an hour after its missed update is escalated again, to support_agent."""

TIGHTER_SCHEMA = SEED_PROTOCOL.replace(
    'payload.required = ["email_id", "customer", "issue"]',
    'payload.required = ["email_id", "customer", "issue"]\n'
    'payload.properties.issue = { type = "string", enum = ["Login button", "Slow page"] }',
)
"""Bug reports about typos are no longer accepted."""


def build_log(url: str, protocol: str) -> tuple[Ledger, datetime]:
    """The six-hour generator's log under ``protocol``; returns the ledger and the end."""
    clock = SimulatedClock(START)
    ledger = open_ledger(url, clock=clock, create=True)
    ledger.apply_protocol(protocol, source="handoff.toml", by="human:me")
    reactor = Reactor(ledger)
    rng = random.Random(SEED)
    open_ids: list[UUID] = []
    quiet: set[UUID] = set()
    never: set[UUID] = set()
    refused: Counter[str] = Counter()
    for step in range(STEPS):
        open_ids += send_some(ledger, rng, step)
        if step % 6 == 0:
            open_ids += [
                e.event.originator_id
                for e in ledger.read_log()
                if isinstance(e.event, Handoff.Created)
                and e.event.parent_id is not None
                and e.event.originator_id not in open_ids
            ]
        for handoff_id in open_ids[-SENDS_PER_STEP:]:
            roll = rng.random()
            (never if roll < 0.1 else quiet if roll < 0.3 else set()).add(handoff_id)
        act(ledger, rng, open_ids, clock.now(), quiet, never, refused)
        reactor.run_once()
        clock.advance(STEP)
    reactor.run_once()
    reactor.close()
    assert not refused, refused  # the reactor runs between the agents' moves here
    return ledger, clock.now()


def escalations(ledger: Ledger, ids: dict[UUID, UUID] | None = None) -> Counter[tuple[Any, ...]]:
    """(handoff, reason, level, repeat, notified, due) of every recorded escalation."""
    found: Counter[tuple[Any, ...]] = Counter()
    for entry in ledger.read_log():
        event = entry.event
        if isinstance(event, Handoff.Escalated):
            handoff = (ids or {}).get(event.originator_id, event.originator_id)
            found[(handoff, event.reason, event.level, event.repeat,
                   tuple(event.notified), event.timer_due)] += 1  # fmt: skip
    return found


def created_order(ledger: Ledger) -> list[Handoff.Created]:
    return [e.event for e in ledger.read_log() if isinstance(e.event, Handoff.Created)]


def stored_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, as stored."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for name in names:
                tables[name] = sorted(map(tuple, conn.execute(f'SELECT * FROM "{name}"')), key=repr)
        return tables
    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        for name in names:
            rows = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
            tables[name] = sorted(map(tuple, rows), key=repr)
    return tables


def simulate(ledger: Ledger, text: str, end: datetime) -> tuple[list[dict[str, Any]], Simulation]:
    simulation = Simulation(ledger, Protocol.parse(text, "candidate.toml"), START, end)
    return list(simulation), simulation


Run = tuple[str, Ledger, datetime]


def _run(request: pytest.FixtureRequest, tmp: Any, store: str, protocol: str) -> Iterator[Run]:
    """One generated log per store, shared by this module's tests (none of them writes)."""
    if store == "sqlite":
        url = f"sqlite:///{tmp.mktemp('simulate') / 'ledger.db'}"
    else:
        base = str(request.getfixturevalue("pg_base_url"))
        url = f"{base}?schema=sim_{uuid.uuid4().hex[:12]}"
    ledger, end = build_log(url, protocol)
    yield url, ledger, end
    ledger.close()
    if url.startswith("postgresql"):
        base, _, schema = url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=STORES)
def seed_run(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Run]:
    """The generator's log under the seed protocol."""
    yield from _run(request, tmp_path_factory, request.param, SEED_PROTOCOL)


@pytest.fixture(scope="module")
def extra_level_run(
    request: pytest.FixtureRequest, tmp_path_factory: Any, seed_run: Run
) -> Iterator[Run]:
    """The same generator run live under :data:`EXTRA_LEVEL`, on the same kind of store."""
    store = "sqlite" if seed_run[0].startswith("sqlite") else "postgresql"
    yield from _run(request, tmp_path_factory, store, EXTRA_LEVEL)


def test_simulating_the_protocol_in_force_differs_in_nothing_and_writes_nothing(
    seed_run: Run,
) -> None:
    url, ledger, end = seed_run
    before = stored_rows(url)
    differences, simulation = simulate(ledger, SEED_PROTOCOL, end)
    assert differences == []
    assert simulation.events_read == sum(1 for _ in ledger.read_log())
    assert sum(escalations(ledger).values()) >= 50  # the log had escalations to redo
    assert stored_rows(url) == before


def test_one_more_notify_level_adds_exactly_what_a_live_run_under_it_escalated(
    seed_run: Run, extra_level_run: Run
) -> None:
    url, ledger, end = seed_run
    _, live, live_end = extra_level_run
    assert live_end == end
    # Both runs created the same handoffs in the same order (ids differ where no key
    # made them): map the live run's ids onto the simulated log's.
    ours, theirs = created_order(ledger), created_order(live)
    assert [(c.sender, c.receiver, c.kind, c.timestamp) for c in ours] == [
        (c.sender, c.receiver, c.kind, c.timestamp) for c in theirs
    ]
    ids = {t.originator_id: o.originator_id for o, t in zip(ours, theirs, strict=True)}

    before = stored_rows(url)
    differences, _ = simulate(ledger, EXTRA_LEVEL, end)
    assert stored_rows(url) == before

    assert {d["difference"] for d in differences} == {"escalation_added"}
    added = Counter(
        (UUID(d["handoff_id"]), d["reason"], d["level"], d["repeat"],
         tuple(d["notified"]), datetime.fromisoformat(d["timer_due"]))
        for d in differences
    )  # fmt: skip
    assert all(key[2] == 2 and key[4] == ("support_agent",) for key in added)
    assert escalations(ledger) + added == escalations(live, ids)
    assert len(added) >= 5


def test_a_tighter_payload_schema_lists_the_handoffs_it_would_refuse_with_the_field(
    seed_run: Run,
) -> None:
    _, ledger, end = seed_run
    differences, _ = simulate(ledger, TIGHTER_SCHEMA, end)
    refused = [d for d in differences if d["difference"] == "refused"]
    typos = {
        str(c.originator_id)
        for c in created_order(ledger)
        if c.kind == "bug_report" and c.payload.get("issue") == "Typo" and c.parent_id is None
    }
    assert typos
    assert {d["handoff_id"] for d in refused} == typos
    assert {(d["action"], d["code"], d["field"]) for d in refused} == {
        ("Created", "payload_invalid", "payload.issue")
    }
    # A refused chain is not simulated further: none of its moves is reported.
    refused_chains = {d["chain_id"] for d in refused}
    others = [d for d in differences if d["difference"] != "refused"]
    assert not [d for d in others if d["chain_id"] in refused_chains]


def test_a_shorter_ack_within_applies_to_the_handoffs_that_took_the_default(
    seed_run: Run,
) -> None:
    _, ledger, end = seed_run
    faster = SEED_PROTOCOL.replace(
        'ack_within = "1h"\ndeadline = "4h"', 'ack_within = "30m"\ndeadline = "4h"'
    )
    assert faster != SEED_PROTOCOL
    differences, simulation = simulate(ledger, faster, end)
    kinds = Counter(d["difference"] for d in differences)
    assert kinds["escalation_added"] > 0
    moved = [d for d in differences if d["difference"].startswith("escalation")]
    # Only bug reports moved: support_agent's free-form sends kept their explicit times.
    assert {d["kind"] for d in moved} == {"bug_report"}
    assert simulation.summary == kinds


def test_a_window_keeps_older_handoffs_under_their_version(seed_run: Run) -> None:
    _, ledger, end = seed_run
    since = START + timedelta(hours=2)
    simulation = Simulation(ledger, Protocol.parse(EXTRA_LEVEL), since, end)
    differences = list(simulation)
    created = {str(c.originator_id): c.timestamp for c in created_order(ledger)}
    assert differences
    assert all(created[d["handoff_id"]] >= since for d in differences)
    # Memory holds the open handoffs, not the log.
    assert simulation.peak_open < len(created) / 2
