"""Committing prepared view batches: in a thread, or in a process of its own.

A batch is prepared (read, decoded once, applied to every view in memory) by the
runner; what is left is SQL: check that nothing moved (each view's tracking position
and generation), write the rows, advance the tracking records, commit. While one
batch is written the runner prepares the next, so the two overlap.

A writer *thread* (``catch_up``) overlaps what the database does without Python's
lock: PostgreSQL's server, SQLite's page work. A writer *process* (``catch_up`` with
``separate_writer``, used for a long catch-up and ``projections rebuild``) takes the
whole write off the preparing process, at the price of sending the rows through a
pipe (pickled value tuples, no events) and of starting a process.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, OperationalError

from handoff_ledger.adapters.views.sql import Changes
from handoff_ledger.adapters.views.store import ViewStore

__all__ = ["ProcessWriter", "ThreadWriter", "WriteOrder", "Writer", "write_batch"]


@dataclass(frozen=True)
class WriteOrder:
    """What committing one batch takes: plain values only (it may cross processes)."""

    last: int
    generations: dict[str, int]
    writes: list[tuple[str, str, int, list[Changes]]]
    """(tracking name, view, position expected, changes) in the order to write them."""
    shadow: bool


def write_batch(store: ViewStore, order: WriteOrder) -> None:
    """Commit one batch: IntegrityError if a view moved on or was rebuilt meanwhile.

    Views are written in one global order, so two writers never lock meta rows
    crosswise; runners of different views never wait for each other.
    """
    dialect = store.dialect
    with store.transaction() as writer:
        if dialect.backend == "postgresql":
            # Don't wait for the WAL flush: a batch lost in a server crash is
            # lost with its tracking record (one transaction), so it is applied
            # again from the log, which is written durably as before.
            writer.execute("SET LOCAL synchronous_commit = off")
        for name, view, behind, changes in order.writes:
            if not order.shadow:
                store.check_generation(writer, view, order.generations[view])
            for change in changes:
                change.write(writer, dialect)
            store.record_position(writer, name, behind, order.last)


class Pending(Protocol):
    """A batch being written: ``result()`` waits for it, raising if it was refused."""

    def result(self) -> None:
        """Wait until it is committed (or raise why not)."""
        ...


class Writer(Protocol):
    """Commits one batch at a time, beside the caller."""

    def submit(self, order: WriteOrder) -> Pending:
        """Start writing ``order``."""
        ...

    def close(self) -> None:
        """Wait for nothing more; free the thread or process."""
        ...


class ThreadWriter:
    """Writes on a thread of this process (the store's own connection pool)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="views-writer")

    def submit(self, order: WriteOrder) -> Future[None]:
        """Start writing ``order`` on the thread."""
        return self.pool.submit(write_batch, self.store, order)

    def close(self) -> None:
        """Wait for the batch in flight, if any, then end the thread."""
        self.pool.shutdown(wait=True)


class ProcessWriter:
    """Writes in a child process with a ledger of its own on the same store."""

    def __init__(self, env: dict[str, str], views: Sequence[str]) -> None:
        import multiprocessing  # here: only a long catch-up or rebuild spawns a writer

        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(env, list(views), child), daemon=True, name="views-writer"
        )
        self.process.start()
        child.close()
        self.waiting = False

    def submit(self, order: WriteOrder) -> ProcessWriter:
        """Send ``order`` to the child; ``result()`` waits for its answer."""
        self.conn.send(order)
        self.waiting = True
        return self

    def result(self) -> None:
        """The child's answer to the order in flight: nothing, or the error it met."""
        self.waiting = False
        try:
            answer = self.conn.recv()
        except EOFError:
            raise RuntimeError(
                f"the views' writer process ended (exit code {self.process.exitcode})"
            ) from None
        if answer is None:
            return
        kind, message = answer
        raise {"IntegrityError": IntegrityError, "OperationalError": OperationalError}.get(
            kind, RuntimeError
        )(message)

    def close(self) -> None:
        """Let the child finish the order in flight, then end it."""
        # An error here: the caller already has the one that stopped it.
        with contextlib.suppress(Exception):
            if self.waiting:
                self.result()
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _serve(env: dict[str, str], views: list[str], conn: Any) -> None:
    """The writer process: commit each order received, answer None or the error."""
    from handoff_ledger.adapters.ledger.application import Ledger
    from handoff_ledger.projections.registry import all_projections

    ledger = Ledger(env=env)
    # No cyclic garbage collection here: an order is plain values (tuples, lists,
    # strings) freed by reference counting once written; collections triggered while
    # one is received would only traverse its hundreds of thousands of tuples.
    gc.disable()
    try:
        store = ViewStore(ledger, [p for p in all_projections() if p.name in views])
        while True:
            try:
                order = conn.recv()
            except EOFError:  # the runner is gone (killed): nothing in flight is ours to finish
                return
            if order is None:
                return
            try:
                write_batch(store, order)
            except (IntegrityError, OperationalError) as error:
                conn.send((type(error).__name__, str(error)))
            except Exception as error:  # noqa: BLE001 - reported to the runner, which raises
                conn.send(("RuntimeError", f"{type(error).__name__}: {error}"))
            else:
                conn.send(None)
            finally:
                del order  # freed before the next one is received: one in memory at a time
    finally:
        ledger.close()
