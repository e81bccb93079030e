"""The library's SQLite factory, with group commit (:mod:`.group_commit`).

SQLite has one writer at a time, and the library's pool already lets one thread of
a process write at a time; here the saves waiting behind it are written together,
in one transaction (one commit, one sync of the file), each inside a savepoint of
its own, so a save that meets a conflict is rolled back alone and its command is
re-run as before. A read of one topic names it in its statement, so the tokens'
partial index (:mod:`.token_index`) serves the tokens' read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory

from handoff_ledger.adapters.store.group_commit import GroupCommit, Save
from handoff_ledger.adapters.store.token_index import sqlite_token_index, topic_literal

__all__ = ["GroupCommitSQLiteFactory", "GroupCommitSQLiteRecorder"]


class GroupCommitSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's recorder; saves that arrive together share a transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(self._insert_alone, self._insert_many)

    def construct_create_table_statements(self) -> list[str]:
        """The library's table, and the tokens' index unless the file is opened read-only."""
        statements = super().construct_create_table_statements()
        if "mode=ro" not in str(self.datastore.pool.db_name):
            statements.append(sqlite_token_index(self.events_table_name))
        return statements

    def notifications_query(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> tuple[str, list[Any]]:
        """The library's statement (and parameters) for these notifications, except that
        one topic is named in it, so the planner can use the tokens' partial index."""
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append("rowid >= ?" if inclusive_of_start else "rowid > ?")
            params.append(start)
        if stop is not None:
            clauses.append("rowid <= ?")
            params.append(stop)
        if len(topics) == 1:
            clauses.append(f"topic = {topic_literal(topics[0])}")
        elif topics:
            clauses.append(f"topic IN ({', '.join('?' * len(topics))})")
            params.extend(topics)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} {where}ORDER BY rowid LIMIT ?"
        )
        return statement, [*params, limit]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The library's read, by :meth:`notifications_query`."""
        statement, params = self.notifications_query(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Record one save's events (with whatever other saves are waiting); its positions."""
        return self.group_commit.insert(stored_events, **kwargs)

    def _insert_alone(
        self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]
    ) -> Sequence[int] | None:
        return super().insert_events(stored_events, **kwargs)

    def _insert_many(self, saves: list[Save]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for save in saves:
                cursor.execute("SAVEPOINT hl_save")
                try:
                    save.positions = self._insert_events(cursor, save.events, **save.kwargs)
                except (sqlite3.IntegrityError, IntegrityError) as error:
                    cursor.execute("ROLLBACK TO hl_save")
                    save.error = IntegrityError(str(error))
                cursor.execute("RELEASE hl_save")
        for save in saves:
            save.written = save.error is None


class GroupCommitSQLiteFactory(SQLiteFactory):
    """``eventsourcing.sqlite.SQLiteFactory`` whose events recorder groups commits."""

    application_recorder_class = GroupCommitSQLiteRecorder
