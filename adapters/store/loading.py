"""Many handoffs loaded in one query: the reactor's batches.

``Ledger.get`` loads one handoff per round trip (the library's ``select_events``
takes one aggregate id). A reactor back from downtime with 10,000 steps due spent
most of its pass on those round trips (docs/performance.md). Here one statement per
page of ids reads every event of the page, in (aggregate, version) order over the
primary key's index; each row is decoded by the ledger's own mapper (topics,
upcasters, the same events ``Ledger.get`` folds) and folded by the events' own
``mutate``, so a handoff loaded here equals the one ``Ledger.get`` returns, its
hash chain's last link included.

No snapshots and no aggregate cache are configured on the ledger, so the events are
the whole truth. The load is a plain read: what decides whether a step may be saved
is still each aggregate's optimistic version check at save time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.domain.handoff import Handoff

__all__ = ["PAGE", "load_handoffs"]

PAGE = 500
"""Ids per statement (well under SQLite's parameter limit)."""


def load_handoffs(
    ledger: Ledger,
    handoff_ids: Iterable[UUID],
    decode: Callable[[StoredEvent], Any] | None = None,
) -> dict[UUID, Handoff]:
    """The handoffs with these ids as they stand now; an id with no events is left out.

    ``decode``: what turns a stored event into its domain event, the ledger's mapper
    by default; the reactor passes the views' decoder (``views/decode.py``), which
    gives exactly the mapper's events in about half the time.
    """
    wanted = list(dict.fromkeys(handoff_ids))
    loaded: dict[UUID, Handoff] = {}
    to_domain = decode or ledger.mapper.to_domain_event
    for first in range(0, len(wanted), PAGE):
        folded: Any = None
        for stored in _stored_events(ledger.recorder, wanted[first : first + PAGE]):
            event: Any = to_domain(stored)
            if folded is not None and folded.id != event.originator_id:
                folded = None  # the rows of the next handoff begin
            folded = event.mutate(folded)
            if isinstance(folded, Handoff):
                loaded[folded.id] = folded
    return loaded


def _stored_events(recorder: Any, ids: Sequence[UUID]) -> list[StoredEvent]:
    """Every stored event of ``ids``, ordered by aggregate id, then version."""
    table = recorder.events_table_name
    if "sqlite" in type(recorder).__module__:
        marks = ", ".join("?" * len(ids))
        with recorder.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor.connection.cursor()
            raw.row_factory = None
            raw.execute(
                f'SELECT originator_id, originator_version, topic, state FROM "{table}" '
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                [i.hex for i in ids],
            )
            convert = recorder.convert_originator_id
            return [StoredEvent(convert(r[0]), r[1], r[2], r[3]) for r in raw.fetchall()]
    from psycopg.rows import tuple_row

    schema = recorder.datastore.schema
    statement = (
        f'SELECT originator_id, originator_version, topic, state FROM "{schema}"."{table}" '
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    )
    # As the library's own reads here (store/postgres.py): a pooled connection the
    # server dropped fails at once and is discarded, so trying once per pooled
    # connection, plus one, reaches a live one. One statement, autocommit: its own
    # snapshot, no BEGIN/COMMIT round trips.
    attempts = int(recorder.datastore.pool.max_size) + 1
    for attempt in range(1, attempts + 1):
        try:
            with (
                recorder.datastore.get_connection() as conn,
                conn.cursor(binary=True, row_factory=tuple_row) as raw,
            ):
                raw.execute(statement, [list(ids)])
                return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in raw.fetchall()]
        except (InterfaceError, OperationalError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
