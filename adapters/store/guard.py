"""The database's own guard on the log, checked by its definition, never trusted.

The events table refuses UPDATE and DELETE (and, on SQLite, an INSERT OR REPLACE
that would overwrite an event; on PostgreSQL, TRUNCATE). The ledger only ever
inserts new events, so the guard costs one index lookup per insert on SQLite and
nothing on PostgreSQL, and turns any attempt to rewrite history through SQL into an
error. It is a guard, not a proof: whoever owns the database can drop, replace or
switch it off, which is why each handoff's events also carry a hash chain.

What makes the guard evidence is how it is checked (:func:`guard_status`): not by
its triggers' names but by their definitions (the SQL text on SQLite; on PostgreSQL
the events, timing, column list, WHEN clause, enabled state and the function's
body). On PostgreSQL the triggers are ``ENABLE ALWAYS``, so a session with
``session_replication_role = replica`` does not skip them.

:func:`keep_guard` runs when a store is opened and when ``audit verify`` runs. On a
store that never had this guard (new, or made by an earlier version) it installs
it and leaves a marker table, ``hl_guard``. On a store whose guard is found missing
or altered, it first records a :class:`GuardRecord` event saying what it found (so
every later ``audit verify`` reports it), then restores the guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.rows import stored_events
from handoff_ledger.domain.guard_record import GUARD_RECORD_ID, GuardRecord

__all__ = [
    "GUARD_MESSAGE",
    "GUARD_TRIGGER",
    "GuardStatus",
    "guard_incidents",
    "guard_statements",
    "guard_status",
    "keep_guard",
    "upgrade_guard_function",
]

GUARD_MESSAGE = "handoff-ledger: the log is append-only"
MARKER_TABLE = "hl_guard"
"""Exists once this version installed the guard: from then on, a guard found
missing is an incident, not a store from before the guard."""

SETUP_LOCK = 7_240_517_311
"""The PostgreSQL advisory lock held while the ledger's DDL runs (as in bootstrap)."""

_PG_FUNCTION = "hl_refuse_log_change"
GUARD_TRIGGER = "hl_events_append_only"
"""The PostgreSQL row trigger (UPDATE, DELETE)."""
_PG_TRUNCATE_TRIGGER = "hl_events_no_truncate"
_OLD_PG_BODY = (
    f" BEGIN RAISE EXCEPTION '{GUARD_MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME "
    "USING ERRCODE = 'insufficient_privilege'; END "
)
"""The function's body before log format 2 (issue 24)."""
_PG_BODY = " -- log format 2 (issue 24)\n" + _OLD_PG_BODY
"""The function's body now. It differs from the old one on purpose: a process of
the code before issue 24 checks the guard by this body when it opens a store, finds
it altered, and tries to record that, which the store refuses
(``log_format.OLD_WRITER_MESSAGE``): an old process meeting a new store stops at
once instead of reading past events it cannot see."""
_PG_TRIGGERS = {
    # tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32
    GUARD_TRIGGER: 1 | 2 | 8 | 16,
    _PG_TRUNCATE_TRIGGER: 2 | 32,
}


def _sqlite_triggers(table: str) -> dict[str, str]:
    """Each SQLite trigger's name and its definition exactly as SQLite keeps it."""
    refuse = "BEGIN SELECT RAISE(ABORT, '{message}'); END"
    return {
        "hl_events_no_update": f'CREATE TRIGGER "hl_events_no_update" BEFORE UPDATE ON "{table}" '
        + refuse.format(message=f"{GUARD_MESSAGE}: UPDATE refused"),
        "hl_events_no_delete": f'CREATE TRIGGER "hl_events_no_delete" BEFORE DELETE ON "{table}" '
        + refuse.format(message=f"{GUARD_MESSAGE}: DELETE refused"),
        # INSERT OR REPLACE deletes the row it conflicts with without firing DELETE
        # triggers (unless recursive_triggers is on): refuse the insert itself.
        "hl_events_no_replace": f'CREATE TRIGGER "hl_events_no_replace" BEFORE INSERT ON '
        f'"{table}" WHEN EXISTS (SELECT 1 FROM "{table}" WHERE originator_id = '
        "NEW.originator_id AND originator_version = NEW.originator_version) OR EXISTS "
        f'(SELECT 1 FROM "{table}" WHERE rowid = NEW.rowid) '
        + refuse.format(message=f"{GUARD_MESSAGE}: an event cannot be replaced"),
    }


_OLD_SQLITE_TRIGGERS = ("hl_events_no_update", "hl_events_no_delete")
"""The guard as versions before issue 20 installed it (no INSERT OR REPLACE check)."""


@dataclass(frozen=True)
class GuardStatus:
    """Whether the events table's append-only guard is there, as installed, and on."""

    table: str
    installed: bool
    enabled: bool
    detail: str
    marked: bool = True
    """False on a store this version never installed its guard on."""
    untouched: bool = False
    """True when the guard is exactly as an earlier version installed it (or absent)
    on a store never marked: an upgrade, not an incident."""

    @property
    def intact(self) -> bool:
        """True when every trigger is present, as defined, and enabled."""
        return self.installed and self.enabled


def guard_statements(recorder: Any) -> list[str]:
    """The statements that (re)install the guard exactly (safe to run twice)."""
    table = recorder.events_table_name
    if _is_sqlite(recorder):
        triggers = _sqlite_triggers(table)
        return [
            *(f'DROP TRIGGER IF EXISTS "{name}"' for name in triggers),
            *triggers.values(),
            f'CREATE TABLE IF NOT EXISTS "{MARKER_TABLE}" (installed INTEGER)',
        ]
    schema = recorder.datastore.schema
    qualified = f'"{schema}"."{table}"'
    function = f'"{schema}"."{_PG_FUNCTION}"'
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
        f"AS $${_PG_BODY}$$",
        f'DROP TRIGGER IF EXISTS "{GUARD_TRIGGER}" ON {qualified}',
        f'CREATE TRIGGER "{GUARD_TRIGGER}" BEFORE UPDATE OR DELETE ON {qualified} '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f'DROP TRIGGER IF EXISTS "{_PG_TRUNCATE_TRIGGER}" ON {qualified}',
        f'CREATE TRIGGER "{_PG_TRUNCATE_TRIGGER}" BEFORE TRUNCATE ON {qualified} '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f'ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER "{GUARD_TRIGGER}"',
        f'ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER "{_PG_TRUNCATE_TRIGGER}"',
        f'CREATE TABLE IF NOT EXISTS "{schema}"."{MARKER_TABLE}" (installed INTEGER)',
    ]


def upgrade_guard_function(cursor: Any, schema: str) -> bool:
    """Give the guard's function its current body if it has exactly the body of the
    code before issue 24 (anything else is left for :func:`keep_guard` to report)."""
    cursor.execute(
        "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = %s AND p.proname = %s",
        (schema, _PG_FUNCTION),
    )
    row = cursor.fetchone()
    if row is None or row["prosrc"] != _OLD_PG_BODY:
        return False
    cursor.execute(
        f'CREATE OR REPLACE FUNCTION "{schema}"."{_PG_FUNCTION}"() RETURNS trigger '
        f"LANGUAGE plpgsql AS $${_PG_BODY}$$"
    )
    return True


def keep_guard(ledger: Ledger) -> GuardStatus:
    """Check the guard; install it on a new store, record and restore a broken one.

    Returns the guard as found, before any repair. One catalog query when intact.
    """
    recorder: Any = ledger.recorder
    for _ in range(3):
        found = guard_status(recorder)
        if found.intact and found.marked:
            return found
        if found.marked or not found.untouched:
            try:
                _record_incident(ledger, found)
            except IntegrityError:
                continue  # another process recorded one at this moment: look again
        _install(recorder)
        return found
    return guard_status(recorder)


def guard_status(recorder: Any) -> GuardStatus:
    """What the database's catalog says about the guard right now."""
    if _is_sqlite(recorder):
        return _sqlite_status(recorder)
    return _postgres_status(recorder)


def guard_incidents(ledger: Ledger) -> list[tuple[int, Any]]:
    """Every recorded incident as (log position, event), oldest first."""
    return [
        (position, ledger.mapper.to_domain_event(StoredEvent(UUID(oid), version, topic, state)))
        for oid, version, topic, state, position in stored_events(ledger, GUARD_RECORD_ID)
    ]


def _record_incident(ledger: Ledger, found: GuardStatus) -> None:
    now = ledger.clock.now()
    try:
        record: GuardRecord = ledger.repository.get(GUARD_RECORD_ID)
    except AggregateNotFoundError:
        record = GuardRecord.first(table=found.table, detail=found.detail, now=now)
    else:
        record.found_broken(table=found.table, detail=found.detail, now=now)
    ledger.save(record)


def _install(recorder: Any) -> None:
    with recorder.datastore.transaction(commit=True) as cursor:
        if not _is_sqlite(recorder):
            # Many processes opening one store at once would race on the DDL.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        for statement in guard_statements(recorder):
            cursor.execute(statement)


def _sqlite_status(recorder: Any) -> GuardStatus:
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE (type = 'trigger' AND "
            "tbl_name = ?) OR (type = 'table' AND name = ?)",
            (table, MARKER_TABLE),
        )
        rows = [(row[0], row[1], row[2]) for row in cursor.fetchall()]
    marked = any(kind == "table" for kind, _, _ in rows)
    present = {name: sql for kind, name, sql in rows if kind == "trigger"}
    expected = _sqlite_triggers(table)
    missing = sorted(set(expected) - set(present))
    altered = sorted(
        name for name in expected if name in present and present[name] != expected[name]
    )
    old = {name: expected[name] for name in _OLD_SQLITE_TRIGGERS}
    untouched = not any(name in present for name in expected) or (
        set(present) & set(expected) == set(old)
        and all(present[name] == sql for name, sql in old.items())
    )
    return _status(
        table,
        missing,
        altered,
        [],
        marked,
        untouched,
        "UPDATE, DELETE and INSERT OR REPLACE of an event refused",
    )


def _postgres_status(recorder: Any) -> GuardStatus:
    table = recorder.events_table_name
    schema = recorder.datastore.schema
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT t.tgname, t.tgenabled, t.tgtype, t.tgqual IS NULL AS no_when, "
            "t.tgattr::text AS columns, t.tgnargs, p.proname, n.nspname, p.prosrc, l.lanname, "
            "to_regclass(%s) IS NOT NULL AS marked "
            "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang "
            "WHERE t.tgrelid = to_regclass(%s) AND t.tgname = ANY(%s)",
            (f'"{schema}"."{MARKER_TABLE}"', f'"{schema}"."{table}"', list(_PG_TRIGGERS)),
        )
        rows = cursor.fetchall()
        if rows:
            marked = bool(rows[0]["marked"])
        else:
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS marked", (f'"{schema}"."{MARKER_TABLE}"',)
            )
            marked = bool(cursor.fetchone()["marked"])
    found = {row["tgname"]: row for row in rows}
    missing = sorted(set(_PG_TRIGGERS) - set(found))
    altered, off = [], []
    for name, row in sorted(found.items()):
        as_installed = (
            row["tgtype"] == _PG_TRIGGERS[name]
            and row["no_when"]
            and row["columns"] in ("", None)
            and row["tgnargs"] == 0
            and row["proname"] == _PG_FUNCTION
            and row["nspname"] == schema
            and row["lanname"] == "plpgsql"
        )
        if not as_installed:
            altered.append(name)
        elif row["prosrc"] != _PG_BODY:
            altered.append(f"{name} (its function {_PG_FUNCTION} was rewritten)")
        state = row["tgenabled"]
        if state == "D":
            off.append(f"{name} disabled")
        elif state != "A":
            off.append(
                f"{name} enabled only for {'replica' if state == 'R' else 'origin'} sessions"
                " (session_replication_role skips it)"
            )
    # Before issue 20 the triggers were created enabled for origin sessions only.
    untouched = not found or (
        not altered and not missing and all(row["tgenabled"] == "O" for row in found.values())
    )
    return _status(
        table, missing, altered, off, marked, untouched, "UPDATE, DELETE and TRUNCATE refused"
    )


def _status(
    table: str,
    missing: list[str],
    altered: list[str],
    off: list[str],
    marked: bool,
    untouched: bool,
    intact: str,
) -> GuardStatus:
    faults = []
    if missing:
        faults.append(f"missing triggers: {', '.join(missing)}")
    if altered:
        faults.append(f"altered triggers: {', '.join(altered)}")
    if off:
        faults.append(f"disabled triggers: {', '.join(off)}")
    installed = not missing and not altered
    return GuardStatus(
        table,
        installed,
        installed and not off,
        "; ".join(faults) if faults else intact,
        marked,
        not marked and (untouched or (installed and not off)),
    )


def _is_sqlite(recorder: Any) -> bool:
    return "sqlite" in type(recorder).__module__
