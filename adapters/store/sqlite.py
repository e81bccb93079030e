"""The library's SQLite factory, with group commit (:mod:`.group_commit`).

SQLite has one writer at a time, and the library's pool already lets one thread of
a process write at a time; here the saves waiting behind it are written together,
in one transaction (one commit, one sync of the file), each inside a savepoint of
its own, so a save that meets a conflict is rolled back alone and its command is
re-run as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory

from handoff_ledger.adapters.store.group_commit import GroupCommit, Save

__all__ = ["GroupCommitSQLiteFactory", "GroupCommitSQLiteRecorder"]


class GroupCommitSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's recorder; saves that arrive together share a transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(self._insert_alone, self._insert_many)

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
