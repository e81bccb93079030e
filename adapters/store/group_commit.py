"""Group commit: saves of different handoffs that arrive together share one transaction.

Every save used to be its own transaction, so each paid its own commit (a WAL
flush) however many arrived at once: a server's request threads, several workers
in one process. Here the first save to arrive while no transaction of this
process's recorder is in flight *leads*: it writes every save waiting at that
moment (up to ``MAX_BATCH``, at most one per aggregate) in one transaction, then
hands the lead to a save still waiting. Saves that arrive meanwhile wait and go
together in the next transaction. A lone save (a CLI command, a single-threaded
worker) is written exactly as before, by the recorder's own path.

Each save keeps its own optimistic check: the batch's recorder writes every save
that does not conflict and reports, per save, its positions or the error it alone
met (:class:`~eventsourcing.persistence.IntegrityError` when another command
recorded that version first, or the protocol guard's ``ProtocolMoved``); a save
that met one is not written, and its command is re-run as before. A save returns
only once its own transaction has committed; an error of the whole transaction (a
dropped connection) is every save's error in it, as it would have been alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import StoredEvent

__all__ = ["MAX_BATCH", "GroupCommit", "Save"]

MAX_BATCH = 256
"""Saves per transaction at most (a batch's rows travel as one array parameter)."""


@dataclass
class Save:
    """One caller's save: its events and the keyword arguments of ``insert_events``."""

    events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    done: bool = False
    written: bool = False
    positions: Sequence[int] | None = None
    error: BaseException | None = None
    originators: frozenset[Any] = field(default_factory=frozenset)

    def outcome(self) -> Sequence[int] | None:
        """The save's positions once committed, else the error it met."""
        if self.error is not None:
            raise self.error
        if not self.written:
            raise RuntimeError("the save's transaction was interrupted before it ended")
        return self.positions


WriteOne = Callable[[Sequence[StoredEvent], dict[str, Any]], "Sequence[int] | None"]
WriteMany = Callable[[list[Save]], None]
"""Writes the saves in one transaction, setting each one's ``positions`` and
``written`` or its ``error`` (and may raise: then every save of the batch failed
with that error)."""


class GroupCommit:
    """Leader-follower group commit over a recorder's one-save and many-saves writes."""

    def __init__(self, write_one: WriteOne, write_many: WriteMany) -> None:
        self._write_one = write_one
        self._write_many = write_many
        self._cond = threading.Condition()
        self._waiting: list[Save] = []
        self._leading = False
        self.transactions = 0
        """Transactions written (for tests and benchmarks: saves / transactions)."""
        self.saves = 0

    def insert(self, events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Write one save's events, together with whatever else is waiting."""
        save = Save(events, kwargs, originators=frozenset(e.originator_id for e in events))
        with self._cond:
            self._waiting.append(save)
            while not save.done and self._leading:
                self._cond.wait()
            if save.done:
                return save.outcome()
            self._leading = True
        try:
            while not save.done:
                with self._cond:
                    batch = self._take()
                self._write(batch)
                with self._cond:
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return save.outcome()

    def _take(self) -> list[Save]:
        """The waiting saves in arrival order, at most one per aggregate (a second
        save of an aggregate waits for the next transaction, after the first)."""
        batch: list[Save] = []
        taken: set[Any] = set()
        for save in self._waiting:
            if len(batch) == MAX_BATCH:
                break
            if save.originators.isdisjoint(taken):
                batch.append(save)
                taken |= save.originators
        for save in batch:
            self._waiting.remove(save)
        return batch

    def _write(self, batch: list[Save]) -> None:
        self.transactions += 1
        self.saves += len(batch)
        try:
            if len(batch) == 1:
                only = batch[0]
                only.positions = self._write_one(only.events, only.kwargs)
                only.written = True
            else:
                self._write_many(batch)
        except Exception as error:  # noqa: BLE001 - every save of the failed transaction
            for save in batch:
                if save.error is None and not save.written:
                    save.error = error
        finally:
            for save in batch:
                save.done = True
