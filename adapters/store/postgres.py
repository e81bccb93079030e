"""The library's PostgreSQL factory and recorders, with every wait bounded.

Two things kept a command waiting far past the documented bounds:

- eventsourcing sets ``lock_timeout`` only around its own table lock when it
  inserts events; any other statement (a read of the log, a view's catch-up)
  waited for a lock for as long as another session held it. Each pooled
  connection here starts with the URL's ``lock_timeout`` as its session setting.
- its recorders retry every ``OperationalError`` ten times, 0.2 s apart, so a lock
  timeout of 30 s became five minutes, and a pool that cannot connect waited ten
  connect timeouts (``/healthz`` hung 14 s during an outage). Here a timeout is
  final (the wait it ends was already the bound); any other failure, such as a
  pooled connection the server dropped, is tried again while the pool may still
  hold such connections (its size, plus one), each try failing at once.

Why this module is long (over 400 lines): ``ManyWritersRecorder`` overrides the
library recorder's insert and select paths (the writers-only horizon, the guarded
insert, the group commit's one-statement batch), and each override reuses that
recorder's private statements, connection handling and retry; split across modules
they would import each other's halves of one class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType
from psycopg.sql import SQL, Composed, Identifier, Literal

from handoff_ledger.adapters.ledger.caches import ProtocolMoved
from handoff_ledger.adapters.store.group_commit import GroupCommit, Save
from handoff_ledger.adapters.store.log_format import (
    HORIZON_WAIT,
    MAX_EVENTS_PER_SAVE,
    RANK_BITS,
    horizon_statement,
    read_offset,
)
from handoff_ledger.adapters.store.token_index import TOKEN_INDEX, TOKEN_TOPIC
from handoff_ledger.adapters.store.urls import session_options
from handoff_ledger.domain.protocol_record import PROTOCOL_ID

__all__ = [
    "BoundedApplicationRecorder",
    "BoundedPostgresFactory",
    "BoundedTrackingRecorder",
    "ManyWritersRecorder",
]

F = TypeVar("F", bound=Callable[..., Any])

_RETRY_PAUSE = 0.2
_HORIZON_POLL = 0.005


def _timed_out(error: BaseException) -> bool:
    """A lock or statement timeout, or no pooled connection in time: the bound was reached."""
    import psycopg
    import psycopg_pool

    cause = error.__cause__ or error
    timeouts = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)
    return isinstance(cause, (*timeouts, psycopg_pool.PoolTimeout))


def _once_more(method: F) -> F:
    """``method`` without the library's ten attempts: a timeout is final.

    Another failure is tried again up to the pool's size: after the server dropped
    every pooled connection, each try discards one of them, and the last try gets
    a new connection.
    """
    inner = getattr(method, "__wrapped__", method)

    @wraps(inner)
    def call(recorder: Any, *args: Any, **kwargs: Any) -> Any:
        attempts = int(recorder.datastore.pool.max_size) + 1
        for attempt in range(1, attempts + 1):
            try:
                return inner(recorder, *args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if _timed_out(error) or attempt == attempts:
                    raise
            time.sleep(_RETRY_PAUSE)
        raise AssertionError("unreachable")  # pragma: no cover

    return call  # type: ignore[return-value]


class BoundedApplicationRecorder(PostgresApplicationRecorder):
    """The library's events recorder; a wait that reached its bound is not repeated."""

    insert_events = _once_more(PostgresApplicationRecorder.insert_events)
    select_events = _once_more(PostgresApplicationRecorder.select_events)
    select_notifications = _once_more(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _once_more(PostgresApplicationRecorder.max_notification_id)


class ManyWritersRecorder(BoundedApplicationRecorder):
    """The library's events recorder without its table lock: many writers at once.

    Each save's events get their log positions from the saving transaction's id
    (:mod:`.log_format`), under ordinary row locks; readers read up to the horizon
    below every running writer of this ledger, so none skips an event committed
    late, and a read waits (bounded) for what was committed before it. One NOTIFY per
    committed transaction, as the library sends (never one per event). Saves that
    arrive together from this process's threads share a transaction
    (:mod:`.group_commit`), each with its own optimistic check.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock_table_statements = []  # the library's LOCK TABLE … IN EXCLUSIVE MODE
        self._offset: int | None = None
        self._insert: Composed | None = None
        self._guarded_insert: Composed | None = None
        self._horizon_query: SQL | None = None
        self._readable = 0
        """The highest horizon this process has seen (it never goes down)."""
        self._held_at: int | None = None
        """A horizon this process already waited on to its bound: not waited on again."""
        self._batch_insert: Composed | None = None
        self.group_commit = GroupCommit(self._insert_alone, self._insert_many)
        schema, table = self.datastore.schema, self.events_table_name
        self._qualified = SQL("{0}.{1}").format(Identifier(schema), Identifier(table))
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (notification_id) WHERE topic = {2}").format(
                Identifier(TOKEN_INDEX), self._qualified, Literal(TOKEN_TOPIC)
            )
        )  # the tokens' partial index (.token_index), keyed by position

    @property
    def position_offset(self) -> int:
        """The store's offset (read once): see :mod:`.log_format`."""
        if self._offset is None:
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:
                found = read_offset(cursor, self.datastore.schema)
            if found is None:
                raise ProgrammingError(
                    f"{self.datastore.schema}.{self.events_table_name}: the store was not "
                    "prepared for many writers (open it with handoff_ledger's open_ledger)"
                )
            self._offset = found
        return self._offset

    def readable(self, timeout: float = HORIZON_WAIT, cursor: Any = None) -> int:
        """The highest position a read that starts now may read, once every event
        committed before this call is below it: at most ``timeout`` s of waiting for a
        writer of this ledger whose transaction holds them back, and none for a
        writer already waited on to the bound (see :mod:`.log_format`).

        ``cursor``: a read inside a transaction asks on its connection (a statement of
        its own, so the read after it has a later snapshot) rather than holding a
        second pooled connection while it waits."""
        return self._wait_readable(timeout, once_per_holder=True, cursor=cursor)[0]

    def wait_for_committed(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until every event committed before this
        call is readable; False if a writer of this ledger still holds the horizon."""
        return self._wait_readable(timeout, once_per_holder=False)[1]

    def _wait_readable(
        self, timeout: float, *, once_per_holder: bool, cursor: Any = None
    ) -> tuple[int, bool]:
        if cursor is not None:
            from psycopg.rows import dict_row

            with cursor.connection.cursor(row_factory=dict_row) as own:
                return self._poll_readable(own, timeout, once_per_holder)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return self._poll_readable(curs, timeout, once_per_holder)

    def _poll_readable(self, curs: Any, timeout: float, once_per_holder: bool) -> tuple[int, bool]:
        if self._horizon_query is None:
            self._horizon_query = SQL(
                horizon_statement(
                    self.position_offset, self.datastore.schema, self.events_table_name
                )
            )
        deadline = time.monotonic() + timeout
        committed: int | None = None
        while True:
            curs.execute(self._horizon_query, prepare=True)
            row = curs.fetchone()
            assert row is not None
            self._readable = max(self._readable, int(row["horizon"]))
            if committed is None:
                committed = int(row["committed"] or 0)
            if self._readable >= committed:
                return self._readable, True
            if (once_per_holder and self._held_at == self._readable) or (
                time.monotonic() >= deadline
            ):
                if once_per_holder:
                    self._held_at = self._readable
                return self._readable, False
            time.sleep(_HORIZON_POLL)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Record one save's events (in a transaction shared with whatever other saves
        of this process are waiting, :mod:`.group_commit`); its positions."""
        return self.group_commit.insert(stored_events, **kwargs)

    def _insert_alone(
        self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]
    ) -> Sequence[int] | None:
        positions: Sequence[int] | None = BoundedApplicationRecorder.insert_events(
            self, stored_events, **kwargs
        )
        return positions

    def _insert_many_once(self, saves: list[Save]) -> None:
        """Write ``saves`` (two or more, on different aggregates) in one transaction
        each save that meets a conflict or the protocol guard is left out with its
        error (the others are written again, in a new transaction, without it)."""
        pending = [save for save in saves if save.error is None and not save.written]
        while len(pending) > 1:
            if not self._try_many(pending):
                return
            pending = [save for save in pending if save.error is None]
        for only in pending:
            try:
                only.positions = self._insert_alone(only.events, only.kwargs)
                only.written = True
            except (IntegrityError, ProtocolMoved) as error:
                only.error = error

    _insert_many = _once_more(_insert_many_once)

    def _try_many(self, saves: list[Save]) -> bool:
        """One transaction for ``saves``: True if some were left out (nothing written)."""
        events = [e for save in saves for e in save.events]
        heads = [save.kwargs.get("protocol_head") for save in saves for _ in save.events]
        if len(events) > MAX_EVENTS_PER_SAVE:
            raise ProgrammingError(f"a transaction records at most {MAX_EVENTS_PER_SAVE} events")
        if self._batch_insert is None:
            self._batch_insert = self._insert_many_statement()
        left_out = False
        import psycopg

        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._notify(curs, events)
            curs.execute(self._batch_insert, (*self._columns(events), heads), prepare=True)
            got = {
                (row["originator_id"], row["originator_version"]): row["notification_id"]
                for row in curs.fetchall()
            }
            for save in saves:
                missing = [
                    e for e in save.events if (e.originator_id, e.originator_version) not in got
                ]
                if missing:
                    left_out = True
                    save.error = self._left_out_because(curs, save, missing[0])
            if left_out:
                raise psycopg.Rollback  # the transaction's block ends here, nothing written
        if left_out:
            return True
        for save in saves:
            save.positions = [got[(e.originator_id, e.originator_version)] for e in save.events]
            save.written = True
        return False

    def _left_out_because(self, curs: Any, save: Save, event: StoredEvent) -> Exception:
        head = save.kwargs.get("protocol_head")
        if head is not None:
            curs.execute(
                SQL("SELECT max(originator_version) AS v FROM {0} WHERE originator_id = %s").format(
                    self._qualified
                ),
                (PROTOCOL_ID,),
            )
            row = curs.fetchone()
            if row is not None and row["v"] is not None and int(row["v"]) > head:
                return ProtocolMoved(f"a protocol version after {head} was recorded")
        return IntegrityError(
            f"another save recorded version {event.originator_version} of "
            f"{event.originator_id} first"
        )

    def _notify(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        """The events channel's NOTIFY, and the protocol's when ``events`` change it."""
        self._notify_channel(curs)
        if any(e.originator_id == PROTOCOL_ID for e in events):
            curs.execute(SQL("NOTIFY {0}").format(Identifier(self.protocol_channel)))

    def _insert_many_statement(self) -> Composed:
        """Many saves' events in one statement: a row whose save was decided under an
        outdated protocol (its head) is not inserted, nor one whose version exists."""
        return SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state, "
            "notification_id) SELECT e.originator_id, e.originator_version, e.topic, e.state, "
            "{offset} + (pg_current_xact_id()::text::bigint << {bits}) + e.rank "
            "FROM unnest({columns}, %b::bigint[]) WITH ORDINALITY "
            "AS e(originator_id, originator_version, topic, state, head, rank) "
            "WHERE e.head IS NULL OR NOT EXISTS (SELECT 1 FROM {table} AS p "
            "WHERE p.originator_id = {protocol} AND p.originator_version > e.head) "
            "ON CONFLICT DO NOTHING RETURNING originator_id, originator_version, notification_id"
        ).format(
            table=self._qualified,
            offset=Literal(self.position_offset),
            bits=Literal(RANK_BITS),
            columns=self._columns_type,
            protocol=Literal(str(PROTOCOL_ID)),
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if kwargs.get("protocol_head") is not None and len(positions or ()) != len(stored_events):
            # The guard held (pipelined: known only now): nothing was inserted.
            raise ProtocolMoved(f"a protocol version after {kwargs['protocol_head']} was recorded")
        return positions

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        if len(stored_events) > MAX_EVENTS_PER_SAVE:
            raise ProgrammingError(
                f"a save records at most {MAX_EVENTS_PER_SAVE} events "
                f"({len(stored_events)} given): split it"
            )
        self._notify(curs, stored_events)
        columns = self._columns(stored_events)
        head = kwargs.get("protocol_head")
        if head is None:
            if self._insert is None:
                self._insert = self._insert_statement(guarded=False)
            curs.execute(self._insert, columns, prepare=True)
            return
        if self._guarded_insert is None:
            self._guarded_insert = self._insert_statement(guarded=True)
        curs.execute(self._guarded_insert, (*columns, PROTOCOL_ID, head), prepare=True)

    def _columns(self, events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
        """The events as four arrays (ids, versions, topics, states), sent in binary.

        An array of the library's composite type was dumped row by row in Python (500
        events: 106 ms a save); four arrays of plain types go over as they are."""
        ids: list[Any] = [e.originator_id for e in events]
        if self.datastore.originator_id_type != "uuid":
            ids = [str(i) for i in ids]
        return (
            ids,
            [e.originator_version for e in events],
            [e.topic for e in events],
            [e.state for e in events],
        )

    @property
    def _columns_type(self) -> Composed:
        """The four arrays' parameters in ``unnest(…)``, typed as the table's columns."""
        return SQL("%b::{0}[], %b::bigint[], %b::text[], %b::bytea[]").format(
            SQL("uuid") if self.datastore.originator_id_type == "uuid" else SQL("text")
        )

    @property
    def protocol_channel(self) -> str:
        """Where a save that records a protocol version NOTIFYs (channels are per
        database, not per schema, so the schema is in the name)."""
        return f"{self.datastore.schema}.{self.events_table_name}.protocol"

    def _insert_statement(self, *, guarded: bool) -> Composed:
        """The insert; ``guarded``: only if no protocol version above a given one is
        recorded (the same statement, so the check costs no round trip)."""
        guard = (
            SQL(
                " WHERE NOT EXISTS (SELECT 1 FROM {0} WHERE originator_id = %s "
                "AND originator_version > %s)"
            ).format(self._qualified)
            if guarded
            else SQL("")
        )
        return SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state, "
            "notification_id) SELECT e.originator_id, e.originator_version, e.topic, e.state, "
            "{offset} + (pg_current_xact_id()::text::bigint << {bits}) + e.rank "
            "FROM unnest({columns}) WITH ORDINALITY "
            "AS e(originator_id, originator_version, topic, state, rank){guard} "
            "RETURNING notification_id"
        ).format(
            table=self._qualified,
            offset=Literal(self.position_offset),
            bits=Literal(RANK_BITS),
            columns=self._columns_type,
            guard=guard,
        )

    def notifications_query(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> tuple[Composed, list[Any]]:
        """The statement (and its parameters) that reads these notifications up to the
        horizon: one topic is named in it, so the planner can use the tokens' partial
        index (:mod:`.token_index`)."""
        clauses: list[SQL | Composed] = [SQL("notification_id <= %s")]
        params: list[Any] = [self.readable()]
        if start is not None:
            clauses.append(
                SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            clauses.append(SQL("notification_id <= %s"))
            params.append(stop)
        if len(topics) == 1:  # named, not passed: the tokens' partial index (.token_index)
            clauses.append(SQL("topic = {0}").format(Literal(topics[0])))
        elif topics:
            clauses.append(SQL("topic = ANY(%s)"))
            params.append(list(topics))
        params.append(limit)
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {0} WHERE {1} ORDER BY notification_id LIMIT %s"
        ).format(self._qualified, SQL(" AND ").join(clauses))
        return statement, params

    def _select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The library's ``select_notifications``, read only up to the horizon."""
        statement, params = self.notifications_query(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def _max_notification_id(self) -> int | None:
        """The last position a reader may read now (at or below the horizon)."""
        horizon = self.readable()
        statement = SQL("SELECT max(notification_id) AS max FROM {0} WHERE notification_id <= %s")
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement.format(self._qualified), (horizon,), prepare=True)
            row = curs.fetchone()
            return None if row is None else row["max"]

    select_notifications = _once_more(_select_notifications)
    max_notification_id = _once_more(_max_notification_id)

    def horizon(self) -> dict[str, Any]:
        """How far the horizon holds readers back now: the last readable position, the
        events committed above it, and the age of the oldest transaction of a writer of
        this ledger (one holding a writing lock on its events table). Never waits."""
        horizon = self._wait_readable(0.0, once_per_holder=False)[0]
        statement = SQL(
            "SELECT (SELECT max(notification_id) FROM {0} WHERE notification_id <= %s) "
            "AS readable, (SELECT count(*) FROM {0} WHERE notification_id > %s) AS waiting, "
            "(SELECT extract(epoch FROM clock_timestamp() - min(a.xact_start)) "
            "FROM pg_locks AS held JOIN pg_stat_activity AS a ON a.pid = held.pid "
            "WHERE held.locktype = 'relation' AND held.relation = {1}::regclass "
            "AND held.mode NOT IN ('AccessShareLock', 'RowShareLock') "
            "AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()) AS oldest"
        ).format(self._qualified, Literal(f'"{self.datastore.schema}"."{self.events_table_name}"'))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (horizon, horizon))
            row = curs.fetchone()
        assert row is not None
        oldest = row["oldest"]
        return {
            "readable": int(row["readable"] or 0),
            "events_waiting": int(row["waiting"]),
            "oldest_transaction_seconds": None if oldest is None else round(float(oldest), 3),
        }


class BoundedTrackingRecorder(PostgresTrackingRecorder):
    """The library's tracking recorder; a wait that reached its bound is not repeated."""

    insert_tracking = _once_more(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = _once_more(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = _once_more(PostgresTrackingRecorder.has_tracking_id)


class BoundedPostgresFactory(PostgresFactory):
    """``eventsourcing.postgres.PostgresFactory`` with bounded waits (see the module)."""

    application_recorder_class = ManyWritersRecorder
    tracking_recorder_class = BoundedTrackingRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The pool is created closed; its first connection is made after this.
        pool_kwargs = self.datastore.pool.kwargs
        assert isinstance(pool_kwargs, dict)
        pool_kwargs["options"] = session_options(self.env)
