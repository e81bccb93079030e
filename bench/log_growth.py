"""The log grows from empty to 10,000,000 events: do appends, catch-up and as-of keep pace?

Issue 25's last item: the append rate at the end at least 0.9x the rate at the start;
the views' catch-up rate and the as-of time per 100,000 events flat.

One growing store and a small reference store (fresh PostgreSQL schemas or SQLite
files, removed afterwards). First a
*template*: ``--template`` real lifecycles through the ledger's commands (send, ack,
status, complete; send, ack, complete; send, decline; send, ack, fail), about 3 events
each. Between checkpoints the log grows fast by copying the template: every copy
gives each handoff a fresh id, moves every time in it past the previous copy, and
recomputes each event's hash chain (``integrity.event_digest``, linked to the copy's
previous event), so a copy is a log that ``audit verify`` accepts; rows are inserted
5,000 per transaction by a second thread while the next ones are encoded.

Checkpoints at 0, 100,000, 500,000 and every 1,000,000 events to ``--to``. At each:
the views catch up with the log (not measured), one as-of answer is read (leaving
replay checkpoints, not measured), then ``--repeats`` (5) times, in turn:

- *append*: ``--lifecycles`` lifecycles (send, ack, complete: 3 saves each) by 8
  threads on one ledger with a pool of 10 connections, as ``handoff serve``'s request
  threads write (their saves share transactions: group commit); events/s; the same
  on a *reference store* that stays small (one copy of the template, ~8,000 events,
  plus its own appends), the two in turn (order flipped each repeat), so the ratio
  growing/reference cancels the load other processes put on the machine;
- *grow* the log by ``--chunk`` events of copies (not measured);
- *baseline*: reading and decoding the reference store's whole log, again and again
  for a second (fixed, small work: how fast the machine is at that moment); events/s;
- *catch-up*: the views catch up with those events and the appended ones; events/s,
  and as a ratio to the baseline;
- *as-of*: ``inbox_document`` as of the time of the middle of the chunk just copied
  (the replay starts from the latest replay checkpoint before it); seconds, and in
  units of the baseline's time for 100,000 events.

``--views off`` (default ``on``) is for finding what slows appends as the log grows:
the views are never caught up and no as-of answer is read (their figures are null in
the JSON lines, blank in ``--table``), so their tables stay empty and take no share of
the server's ``shared_buffers`` or the OS cache; append, the reference store's appends,
the growth and the baseline are run exactly as with the views on. If append /
reference then holds while it halves with the views on, the views' tables crowding
the events table's pages out of the cache is the likely cause; if it halves anyway,
the cause is in the events table or the append path itself (docs/performance.md,
"Cause-finding: appends with the views never caught up").

``--vacuum``: after each checkpoint's bulk catch-up, ``VACUUM (ANALYZE)`` every table
of the views before measuring, to tell the views' dead rows (their updates leave old
row versions and index entries until autovacuum runs) from their size. Each line
also gives the views' live and dead rows before that (``views_tuples_before_measuring``)
and the levels of each of their B-tree indexes (``views_index_levels``).

So a checkpoint's figures cover the ~210,000 events after it (5 repeats of ~42,000:
each catch-up measures ~42,000 events, within "the last 100,000").
Each figure is the median of the repeats, and also a ratio against the first
checkpoint's. One JSON line per checkpoint, flushed, so a partial run still gives
figures; at the end ``audit verify`` of ``--verify`` copied handoffs picked at random
(every hash recomputed from the rows as stored) and of the template's first ones.

On PostgreSQL a copied transaction holds 5,000 events where the product's hold a
few, so positions (which step by transaction id) would put replay checkpoints
millions of events apart; the bench sets ``views.checkpoint_every`` to put them about
10,000 events apart, as SQLite's default does (positions there are rows), so an
as-of answer reads the same ~10,000 to 50,000 events at every checkpoint.

    .venv/bin/python bench/log_growth.py [--stores postgresql] [--to 10000000] [--views off]
        [--vacuum]
    .venv/bin/python bench/log_growth.py --table RUN.jsonl      # a run's lines as a table

Roughly 1 to 1 h 40 min to 10,000,000 events on PostgreSQL on this shared 2-core
machine (about 5 minutes per 1,000,000 early on; each line's ``elapsed_s`` says);
docs/performance.md, "Log growth to 10,000,000 events".
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
from common import PG_BASE, scratch_store
from psycopg import sql

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.services.queries import inbox_document
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.domain.integrity import event_digest
from handoff_ledger.domain.states import Status

START = datetime(2026, 1, 1, tzinfo=UTC)
ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")
INSERT_BATCH = 5_000
CHECKPOINT_EVENTS = 10_000
"""Events between replay checkpoints on PostgreSQL here: SQLite's default spacing."""
THREADS = 8
PAYLOAD = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}
AGENTS = [f"agent_{n:02d}" for n in range(20)]


def checkpoints(to: int) -> list[int]:
    """0, 100,000, 500,000, then every 1,000,000 up to ``to``."""
    marks = [0, 100_000, 500_000, *range(1_000_000, to + 1, 1_000_000)]
    return [m for m in marks if m <= to]


def build_template(ledger: Ledger, clock: SimulatedClock, lifecycles: int) -> None:
    """``lifecycles`` real lifecycles, one second between commands."""
    second = timedelta(seconds=1)
    for n in range(lifecycles):
        worker = AGENTS[n % len(AGENTS)]
        clock.advance(second)
        handoff = ledger.send(
            sender=AGENTS[(n * 7 + 3) % len(AGENTS)], to=worker, payload={**PAYLOAD, "n": n}
        ).handoff
        clock.advance(second)
        if n % 4 == 2:
            ledger.decline(handoff.id, by=worker, reason="not mine")
            continue
        ledger.ack(handoff.id, by=worker)
        clock.advance(second)
        if n % 4 == 0:
            ledger.report_status(handoff.id, by=worker, status=Status.WORKING)
            clock.advance(second)
        if n % 4 == 3:
            ledger.fail(handoff.id, by=worker, reason="upstream down")
        else:
            ledger.complete(handoff.id, by=worker, result={"fix": f"PR #{n}"})


class Copier:
    """Copies of the template's handoff events: fresh ids, later times, new hash chains."""

    def __init__(self, ledger: Ledger, end: datetime) -> None:
        decoder = EventDecoder(ledger.mapper)
        self.mapper = ledger.mapper
        self.events: list[tuple[Any, str]] = []
        page_start = 1
        while True:
            page = ledger.recorder.select_notifications(
                start=page_start, limit=5_000, topics=HANDOFF_TOPICS
            )
            for n in page:
                event = decoder.decode_entry(
                    n.topic, n.originator_id, n.originator_version, n.state
                )
                self.events.append((event, n.topic.rpartition(".")[2]))
            if len(page) < 5_000:
                break
            page_start = page[-1].id + 1
        self.first = min(e.timestamp for e, _ in self.events)
        self.end = end
        self.last_time = end
        """The latest time recorded so far (a copy's last event, or appended ones')."""
        self.copied_ids: list[UUID] = []

    def copy(self, *, sampled: bool = True) -> list[Any]:
        """One copy of the template, as stored events in the template's log order
        (``sampled``: two of its handoffs are among those ``audit verify`` may check)."""
        ids: dict[UUID, UUID] = {}
        last_hash: dict[UUID, str] = {}
        shift = self.last_time + timedelta(seconds=10) - self.first
        out = []
        for event, name in self.events:
            new = object.__new__(type(event))
            values = vars(new)
            values.update(vars(event))
            old_id = values["originator_id"]
            new_id = ids.get(old_id)
            if new_id is None:
                new_id = ids[old_id] = uuid4()
            values["originator_id"] = new_id
            values["chain_id"] = ids.get(values["chain_id"], values["chain_id"])
            if values.get("parent_id") is not None:
                values["parent_id"] = ids.get(values["parent_id"], values["parent_id"])
            for key, value in values.items():
                if isinstance(value, datetime):
                    values[key] = value + shift
            values["prev_hash"] = last_hash.get(new_id)
            values["hash"] = last_hash[new_id] = event_digest(
                type_name=name,
                handoff_id=new_id,
                version=values["originator_version"],
                at=values["timestamp"],
                prev_hash=values["prev_hash"],
                data={k: v for k, v in values.items() if k not in ENVELOPE},
            )
            out.append(self.mapper.to_stored_event(new))
        self.last_time = self.end + shift
        if sampled:
            self.copied_ids.extend(random.sample(list(ids.values()), 2))
        return out


def grow(ledger: Ledger, copier: Copier, events: int) -> tuple[int, datetime]:
    """Append copies until ``events`` more events; the count and the middle copy's time."""
    batches: queue.Queue[list[Any] | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def insert() -> None:
        try:
            while (batch := batches.get()) is not None:
                ledger.recorder.insert_events(batch)
        except BaseException as error:  # noqa: BLE001 - reported by the producer
            failure.append(error)
            while batches.get() is not None:
                pass

    inserter = threading.Thread(target=insert, daemon=True)
    inserter.start()
    written, pending, middle = 0, [], None
    while written < events and not failure:
        copy = copier.copy()
        written += len(copy)
        if middle is None and written >= events // 2:
            middle = copy[len(copy) // 2]
        pending.extend(copy)
        while len(pending) >= INSERT_BATCH:
            batches.put(pending[:INSERT_BATCH])
            pending = pending[INSERT_BATCH:]
    if pending:
        batches.put(pending)
    batches.put(None)
    inserter.join()
    if failure:
        raise failure[0]
    assert middle is not None
    event: Any = copier.mapper.to_domain_event(middle)  # a Handoff event: has a timestamp
    return written, event.timestamp


def append(ledger: Ledger, lifecycles: int) -> float:
    """Events/s of ``lifecycles`` lifecycles by 8 threads on one ledger (group commit)."""
    per_thread = lifecycles // THREADS
    barrier = threading.Barrier(THREADS + 1)
    failure: list[BaseException] = []

    def work(me: str) -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                handoff = ledger.send(sender="inbox_monitor", to=me, payload=PAYLOAD).handoff
                ledger.ack(handoff.id, by=me)
                ledger.complete(handoff.id, by=me, result={"fix": "PR #412"})
        except BaseException as error:  # noqa: BLE001 - reported below
            failure.append(error)

    threads = [threading.Thread(target=work, args=(f"writer_{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failure:
        raise failure[0]
    return per_thread * THREADS * 3 / seconds


def read_decode_rate(ledger: Ledger, seconds: float = 1.0) -> float:
    """Events/s of reading and decoding the whole (small) log through the library, over
    and over for at least ``seconds``: the fixed work that tells how fast the machine
    is at this moment (views_catchup.py's baseline)."""
    began, count = time.perf_counter(), 0
    while count == 0 or time.perf_counter() - began < seconds:
        position = 0
        while page := ledger.recorder.select_notifications(
            start=position + 1, limit=1_000, topics=VIEW_TOPICS
        ):
            for notification in page:
                ledger.mapper.to_domain_event(notification)
            count += len(page)
            position = page[-1].id
    return count / (time.perf_counter() - began)


def head(ledger: Ledger) -> int:
    """How many events the log holds."""
    recorder: Any = ledger.recorder
    table = recorder.events_table_name
    schema = getattr(recorder.datastore, "schema", None)
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT count(*) AS n FROM {name}")
        return int(cursor.fetchone()["n"])


def pg_schema(ledger: Ledger) -> str | None:
    """The store's PostgreSQL schema, or None on SQLite."""
    return getattr(ledger.recorder.datastore, "schema", None)  # type: ignore[attr-defined]


def pg_sizes(ledger: Ledger) -> dict[str, int] | None:
    """MB of the events table and each of its indexes (PostgreSQL), against shared_buffers."""
    recorder: Any = ledger.recorder
    schema = pg_schema(ledger)
    if schema is None:
        return None
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT c.relname AS name, pg_relation_size(c.oid) / 1048576 AS mb FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relname LIKE %s",
            (schema, "%events%"),
        )
        sizes = {row["name"]: int(row["mb"]) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT pg_relation_size(indexrelid) / 1048576 AS mb, c.relname AS name "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass",
            (f'"{schema}"."{recorder.events_table_name}"',),
        )
        sizes.update({row["name"]: int(row["mb"]) for row in cursor.fetchall()})
        cursor.execute(  # (before 2026-12-07: NOT LIKE '%events%', without hl_feed_events)
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) / 1048576 AS mb "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname <> %s",
            (schema, recorder.events_table_name),
        )
        sizes["views_with_indexes"] = int(cursor.fetchone()["mb"])
        cursor.execute(
            "SELECT setting::bigint * 8 / 1024 AS mb FROM pg_settings WHERE name = 'shared_buffers'"
        )
        sizes["shared_buffers"] = int(cursor.fetchone()["mb"])
    return sizes


def _views_sum(ledger: Ledger, sums: str, statistics_view: str) -> dict[str, Any] | None:
    """One row of ``sums`` over the views' tables (every table of the store's schema but
    the events table) in one of PostgreSQL's per-table statistics views, or None on
    SQLite."""
    schema = pg_schema(ledger)
    if schema is None:
        return None
    with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            f"SELECT {sums} FROM {statistics_view} WHERE schemaname = %s AND relname <> %s",
            (schema, ledger.recorder.events_table_name),  # type: ignore[attr-defined]
        )
        row: dict[str, Any] = cursor.fetchone()
        return row


def views_blocks(ledger: Ledger) -> tuple[int, int] | None:
    """(blocks read from outside shared_buffers, blocks found in them) so far, over the
    views' tables and their indexes (PostgreSQL's cumulative statistics), or None on
    SQLite. (Before 2026-12-07 it left out every table whose name holds "events", the
    feed's ``hl_feed_events`` too.)"""
    row = _views_sum(
        ledger,
        "coalesce(sum(heap_blks_read + coalesce(idx_blks_read, 0)), 0) AS r, "
        "coalesce(sum(heap_blks_hit + coalesce(idx_blks_hit, 0)), 0) AS h",
        "pg_statio_user_tables",
    )
    return None if row is None else (int(row["r"]), int(row["h"]))


def views_index_levels(ledger: Ledger) -> dict[str, int] | None:
    """Each B-tree index of the store's schema but the events table's (the views', and
    the few of the tracking and checkpoint tables): its levels above the leaves (0: the
    root is a leaf), from the index's metapage (``bt_metap`` of the ``pageinspect``
    extension). Each level more is a page more that every lookup and insert by that
    index touches. None on SQLite, or where the extension cannot be had.

    Creates the extension in the database if absent (a superuser's right), and leaves
    it there: the bench's scratch schemas come and go in one database, and another run
    may be using it."""
    schema = pg_schema(ledger)
    if schema is None:
        return None
    datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
    try:
        with datastore.transaction(commit=True) as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public")
    except Exception as error:  # noqa: BLE001 - a figure the run can do without
        print(f"no index levels: {error}", file=sys.stderr, flush=True)
        return None
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT c.relname AS name, (public.bt_metap(format('%%I.%%I', n.nspname, "
            "c.relname))).level AS level FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
            "WHERE n.nspname = %s AND a.amname = 'btree' AND t.relname <> %s "
            "ORDER BY c.relname",
            (schema, ledger.recorder.events_table_name),  # type: ignore[attr-defined]
        )
        return {row["name"]: int(row["level"]) for row in cursor.fetchall()}


def views_tuples(ledger: Ledger) -> dict[str, int] | None:
    """Live and dead rows over the views' tables (PostgreSQL's estimates, as autovacuum
    sees them), and how many of those tables autovacuum has vacuumed so far; None on
    SQLite. Read after ``STATS_FLUSH``; an idle session may take up to 10 s
    (PostgreSQL 15) to publish its counts, so the last catch-up's may be missing."""
    if pg_schema(ledger) is None:
        return None
    time.sleep(STATS_FLUSH)
    row = _views_sum(
        ledger,
        "coalesce(sum(n_live_tup), 0) AS live, coalesce(sum(n_dead_tup), 0) AS dead, "
        "count(*) FILTER (WHERE autovacuum_count > 0) AS autovacuumed_tables",
        "pg_stat_user_tables",
    )
    return None if row is None else {key: int(value) for key, value in row.items()}


def vacuum_views(ledger: Ledger) -> None:
    """``VACUUM (ANALYZE)`` every table of the views (``--vacuum``; PostgreSQL)."""
    schema = pg_schema(ledger)
    if schema is None:
        return
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s AND relname <> %s",
            (schema, ledger.recorder.events_table_name),  # type: ignore[attr-defined]
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, table)))


STATS_FLUSH = 1.5
"""Seconds for the server's sessions to publish their statistics (at most once a
second each, when idle) before the block counters are read."""


def measure(backend: str, args: argparse.Namespace) -> None:
    began = time.monotonic()
    suffix = "&pool_size=10" if backend == "postgresql" else ""
    with scratch_store(backend) as base, scratch_store(backend) as reference_base:
        url = base.replace("&pool_size=4", "") + suffix
        reference_url = reference_base.replace("&pool_size=4", "") + suffix
        for name, where in (("store", url), ("reference store", reference_url)):
            print(f"{name}: {where} (removed at the end)", file=sys.stderr, flush=True)
        clock = SimulatedClock(START)
        ledger = open_ledger(url, clock=clock)
        build_template(ledger, clock, args.template)
        copier = Copier(ledger, clock.now())
        reference = open_ledger(reference_url, clock=clock)
        reference.recorder.insert_events(
            copier.copy(sampled=False)
        )  # the template's size, and stays small
        # --views off: no Views here, so the views' tables stay empty (audit verify opens
        # them read-only, which creates them) and only the events tables compete for the
        # cache (the point of the option).
        views = Views(ledger) if args.views == "on" else None
        if views is not None and backend == "postgresql":
            views.checkpoint_every = max(1, CHECKPOINT_EVENTS // INSERT_BATCH)
        events = head(ledger)  # counted once; then every event this bench writes is added
        per_append = args.lifecycles // THREADS * THREADS * 3
        first: dict[str, float | None] = {}
        for mark in checkpoints(args.to):
            grow_began = time.monotonic()
            grown = grow(ledger, copier, mark - events)[0] if mark > events else 0
            events += grown
            grow_seconds = time.monotonic() - grow_began
            bulk_began = time.monotonic()
            if views is not None:
                views.catch_up()
                inbox_document(views, AGENTS[1], 100, copier.last_time)  # replay checkpoints
            bulk_seconds = time.monotonic() - bulk_began
            tuples_before = views_tuples(ledger) if views is not None else None
            if views is not None and args.vacuum:
                vacuum_views(ledger)
            start_events = events
            copier.last_time = clock_to(clock, copier.last_time + timedelta(seconds=1))
            for warm in (ledger, reference):  # connections, statements, caches: not measured
                append(warm, THREADS * 10)
            read_decode_rate(reference, seconds=0.0)
            appended, referenced, caught, as_of, baseline = [], [], [], [], []
            if views is not None and backend == "postgresql":
                time.sleep(STATS_FLUSH)
            blocks_before = views_blocks(ledger) if views is not None else None
            caught_events = 0
            for repeat in range(args.repeats):
                copier.last_time = clock_to(clock, copier.last_time + timedelta(seconds=1))
                if repeat % 2:  # the two stores' appends in turn, the order flipped each repeat
                    appended.append(append(ledger, args.lifecycles))
                    referenced.append(append(reference, args.lifecycles))
                else:
                    referenced.append(append(reference, args.lifecycles))
                    appended.append(append(ledger, args.lifecycles))
                copied, moment = grow(ledger, copier, args.chunk)
                events += per_append + copied
                baseline.append(read_decode_rate(reference))
                if views is None:
                    continue
                t0 = time.perf_counter()
                applied = views.catch_up()
                caught.append(applied / (time.perf_counter() - t0))
                caught_events += applied
                t0 = time.perf_counter()
                inbox_document(views, AGENTS[1], 100, moment)
                as_of.append(time.perf_counter() - t0)
            blocks: dict[str, float | None] = {}
            if blocks_before is not None and caught_events:
                time.sleep(STATS_FLUSH)
                after = views_blocks(ledger)
                assert after is not None
                read, hit = after[0] - blocks_before[0], after[1] - blocks_before[1]
                # The catch-ups' and the as-of answers' reads of the views' tables (the
                # appends and the growth write only the events table).
                blocks = {
                    "views_blocks_read_per_1k_events": round(read * 1000 / caught_events, 1),
                    "views_blocks_hit_per_1k_events": round(hit * 1000 / caught_events, 1),
                    "views_blocks_hit_share": round(hit / (hit + read), 4) if hit + read else None,
                }
            sample = random.sample(copier.copied_ids, min(3, len(copier.copied_ids)))
            problems = sum(len(verify_ledger(ledger, hid).problems) for hid in sample)
            figures: dict[str, float | None] = {
                "append_events_per_s": statistics.median(appended),
                "append_vs_reference": statistics.median(
                    a / r for a, r in zip(appended, referenced, strict=True)
                ),
                "catch_up_events_per_s": median_or_none(caught),
                "catch_up_vs_read_decode": median_or_none(
                    [c / b for c, b in zip(caught, baseline, strict=True)] if caught else []
                ),
                "as_of_seconds": median_or_none(as_of),
                "as_of_in_read_decode_100k": median_or_none(
                    [a * b / 100_000 for a, b in zip(as_of, baseline, strict=True)] if as_of else []
                ),
            }
            first = first or figures
            line = {
                "store": backend,
                "views": args.views,
                "checkpoint": mark,
                "events_at_start": start_events,
                "events_at_end": events,
                **{k: rounded(v) for k, v in figures.items()},
                **{f"{k}_vs_first": ratio(v, first[k]) for k, v in figures.items()},
                "append_runs": [round(v) for v in appended],
                "reference_append_runs": [round(v) for v in referenced],
                "catch_up_runs": [round(v) for v in caught],
                "read_decode_runs": [round(v) for v in baseline],
                "as_of_runs": [round(v, 3) for v in as_of],
                "grew_events": grown,
                "grow_seconds": round(grow_seconds, 1),
                "bulk_catch_up_and_first_as_of_seconds": round(bulk_seconds, 1),
                "audit_sample_problems": problems,
                **blocks,
                "sizes_mb": pg_sizes(ledger),
                "views_index_levels": views_index_levels(ledger),
                "views_tuples_before_measuring": tuples_before,
                "vacuumed_before_measuring": bool(args.vacuum),
                "load": [round(x, 2) for x in os.getloadavg()],
                "elapsed_s": round(time.monotonic() - began),
            }
            print(json.dumps(line), flush=True)
        verify_at_end(ledger, copier, args.verify)
        ledger.close()
        reference.close()


def levels_cell(levels: dict[str, int] | None) -> str:
    """How many of the views' indexes have each number of levels: "1: 4, 2: 9"."""
    if not levels:
        return ""
    counts = Counter(levels.values())
    return ", ".join(f"{level}: {counts[level]}" for level in sorted(counts))


def median_or_none(values: list[float]) -> float | None:
    """The median, or None when nothing was measured (``--views off``: no catch-up)."""
    return statistics.median(values) if values else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def ratio(value: float | None, first: float | None) -> float | None:
    """``value`` against the first checkpoint's; None when either was not measured."""
    return None if value is None or first is None else round(value / first, 3)


def clock_to(clock: SimulatedClock, moment: datetime) -> datetime:
    """Move the simulated clock forward to ``moment`` (never back); its reading."""
    if moment > clock.now():
        clock.advance(moment - clock.now())
    return clock.now()


def verify_at_end(ledger: Ledger, copier: Copier, count: int) -> None:
    """``audit verify`` of ``count`` copied handoffs at random and the template's first."""
    picked = random.sample(copier.copied_ids, min(count, len(copier.copied_ids)))
    picked.append(copier.events[0][0].originator_id)
    problems: list[str] = []
    for hid in picked:
        report = verify_ledger(ledger, hid)
        problems.extend(p.message for p in report.problems)
    print(
        json.dumps({"audit_verify_handoffs": len(picked), "problems": problems[:10]}),
        flush=True,
    )
    if problems:
        raise SystemExit("audit verify found problems in the copied log")


def table(path: str) -> None:
    """The JSON lines of a run as docs/performance.md's table (Markdown)."""
    print(
        "| checkpoint | events measured | append ev/s | append / reference | vs first "
        "| catch-up ev/s | catch-up / read+decode | vs first | as-of s | as-of in read+decode "
        "of 100k | vs first | events_pkey MB | views MB | views blocks read / hit per 1k "
        "events | views' B-tree indexes by levels | load (1 min) | elapsed |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    with open(path) as lines:
        for raw in lines:
            if not raw.startswith("{"):
                continue
            line = json.loads(raw)
            if "checkpoint" not in line:
                continue
            sizes = line["sizes_mb"] or {}

            def cell(key: str, form: str = ".2f", line: dict[str, Any] = line) -> str:
                # Older runs lack some keys; --views off runs have null catch-up and as-of.
                return "" if line.get(key) is None else format(line[key], form)

            cells = [
                f"{line['checkpoint']:,}",
                f"{line['events_at_start']:,} to {line['events_at_end']:,}",
                cell("append_events_per_s", ",.0f"),
                cell("append_vs_reference"),
                cell("append_vs_reference_vs_first"),
                cell("catch_up_events_per_s", ",.0f"),
                cell("catch_up_vs_read_decode"),
                cell("catch_up_vs_read_decode_vs_first"),
                cell("as_of_seconds"),
                cell("as_of_in_read_decode_100k"),
                cell("as_of_in_read_decode_100k_vs_first"),
                str(sizes.get("ledger_events_pkey", "")),
                str(sizes.get("views_with_indexes", "")),
                (
                    f"{cell('views_blocks_read_per_1k_events', ',.0f')} / "
                    f"{cell('views_blocks_hit_per_1k_events', ',.0f')}"
                    if line.get("views_blocks_read_per_1k_events") is not None
                    else ""
                ),
                levels_cell(line.get("views_index_levels")),
                f"{line['load'][0]:.1f}",
                f"{line['elapsed_s'] // 60} min",
            ]
            print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="postgresql", help="postgresql or sqlite")
    parser.add_argument("--to", type=int, default=10_000_000)
    parser.add_argument("--template", type=int, default=2_500)
    parser.add_argument("--lifecycles", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=33_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--verify", type=int, default=50)
    parser.add_argument(
        "--views",
        choices=("on", "off"),
        default="on",
        help="off: never catch the views up, no as-of (to see appends with the log alone)",
    )
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="VACUUM (ANALYZE) the views' tables after each bulk catch-up, before measuring",
    )
    parser.add_argument(
        "--table", metavar="JSONL", help="print a run's lines as a table, then exit"
    )
    args = parser.parse_args()
    if args.table:
        table(args.table)
        return
    for backend in args.stores.split(","):
        measure(backend, args)


if __name__ == "__main__":
    main()
