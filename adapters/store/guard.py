"""The database's own guard on the log: the events table refuses UPDATE and DELETE.

The ledger only ever inserts events, so the guard costs nothing on the write path
and turns any attempt to rewrite history through SQL into an error. It is a guard,
not a proof: whoever owns the database can disable it (``ALTER TABLE … DISABLE
TRIGGER``, ``DROP TRIGGER``), which is why each handoff's events also carry a hash
chain that ``handoff audit verify`` checks, and why the check reports a guard that
is missing or disabled.

SQLite has BEFORE UPDATE / BEFORE DELETE triggers that ``RAISE(ABORT)``;
PostgreSQL has row triggers for UPDATE and DELETE and a statement trigger for
TRUNCATE, all calling one function that raises ``insufficient_privilege``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "GUARD_MESSAGE",
    "GUARD_TRIGGER",
    "GuardStatus",
    "guard_status",
    "install_guard",
    "postgres_guard_sql",
]

GUARD_MESSAGE = "handoff-ledger: the log is append-only"

_SQLITE_TRIGGERS = {
    "hl_events_no_update": "UPDATE",
    "hl_events_no_delete": "DELETE",
}
_PG_FUNCTION = "hl_refuse_log_change"
GUARD_TRIGGER = "hl_events_append_only"
"""The PostgreSQL row trigger whose presence means the guard was installed."""
_PG_ROW_TRIGGER = GUARD_TRIGGER
_PG_TRUNCATE_TRIGGER = "hl_events_no_truncate"


@dataclass(frozen=True)
class GuardStatus:
    """Whether the events table's append-only triggers are there and enabled."""

    table: str
    installed: bool
    enabled: bool
    detail: str

    @property
    def intact(self) -> bool:
        """True when every trigger is present and enabled."""
        return self.installed and self.enabled


def install_guard(recorder: Any) -> None:
    """Create the append-only triggers on the recorder's events table, if missing.

    Idempotent and cheap when they exist (one catalog read). On PostgreSQL the
    caller holds the setup advisory lock (see ``bootstrap``); on SQLite
    ``IF NOT EXISTS`` makes concurrent openers harmless.
    """
    table = recorder.events_table_name
    if _is_sqlite(recorder):
        present = _sqlite_triggers(recorder, table)
        if set(_SQLITE_TRIGGERS) <= present:
            return
        with recorder.datastore.transaction(commit=True) as cursor:
            for name, operation in _SQLITE_TRIGGERS.items():
                cursor.execute(
                    f'CREATE TRIGGER IF NOT EXISTS "{name}" BEFORE {operation} ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}: {operation} refused'); END"
                )
        return
    schema = recorder.datastore.schema
    with recorder.datastore.transaction(commit=True) as cursor:
        for statement in postgres_guard_sql(schema, table):
            cursor.execute(statement)


def postgres_guard_sql(schema: str, table: str) -> list[str]:
    """The statements that install the PostgreSQL guard (safe to run twice)."""
    qualified = f'"{schema}"."{table}"'
    function = f'"{schema}"."{_PG_FUNCTION}"'
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{GUARD_MESSAGE}: % refused on %', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$",
        f'DROP TRIGGER IF EXISTS "{_PG_ROW_TRIGGER}" ON {qualified}',
        f'CREATE TRIGGER "{_PG_ROW_TRIGGER}" BEFORE UPDATE OR DELETE ON {qualified} '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f'DROP TRIGGER IF EXISTS "{_PG_TRUNCATE_TRIGGER}" ON {qualified}',
        f'CREATE TRIGGER "{_PG_TRUNCATE_TRIGGER}" BEFORE TRUNCATE ON {qualified} '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def guard_status(recorder: Any) -> GuardStatus:
    """What the database says about the guard right now."""
    table = recorder.events_table_name
    if _is_sqlite(recorder):
        present = _sqlite_triggers(recorder, table)
        missing = sorted(set(_SQLITE_TRIGGERS) - present)
        detail = (
            f"missing triggers: {', '.join(missing)}" if missing else "UPDATE and DELETE refused"
        )
        return GuardStatus(table, not missing, not missing, detail)
    schema = recorder.datastore.schema
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
            "AND tgname = ANY(%s)",
            (f'"{schema}"."{table}"', [_PG_ROW_TRIGGER, _PG_TRUNCATE_TRIGGER]),
        )
        found = {row["tgname"]: row["tgenabled"] for row in cursor.fetchall()}
    missing = sorted({_PG_ROW_TRIGGER, _PG_TRUNCATE_TRIGGER} - set(found))
    disabled = sorted(name for name, state in found.items() if state == "D")
    if missing:
        return GuardStatus(table, False, False, f"missing triggers: {', '.join(missing)}")
    if disabled:
        return GuardStatus(table, True, False, f"disabled triggers: {', '.join(disabled)}")
    return GuardStatus(table, True, True, "UPDATE, DELETE and TRUNCATE refused")


def _sqlite_triggers(recorder: Any, table: str) -> set[str]:
    """The names of the triggers on ``table`` (SQLite)."""
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        )
        return {row[0] for row in cursor.fetchall()}


def _is_sqlite(recorder: Any) -> bool:
    return "sqlite" in type(recorder).__module__
