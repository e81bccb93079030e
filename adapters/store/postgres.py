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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType

from handoff_ledger.adapters.store.urls import session_options

__all__ = ["BoundedApplicationRecorder", "BoundedPostgresFactory", "BoundedTrackingRecorder"]

F = TypeVar("F", bound=Callable[..., Any])

_RETRY_PAUSE = 0.2


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


class BoundedTrackingRecorder(PostgresTrackingRecorder):
    """The library's tracking recorder; a wait that reached its bound is not repeated."""

    insert_tracking = _once_more(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = _once_more(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = _once_more(PostgresTrackingRecorder.has_tracking_id)


class BoundedPostgresFactory(PostgresFactory):
    """``eventsourcing.postgres.PostgresFactory`` with bounded waits (see the module)."""

    application_recorder_class = BoundedApplicationRecorder
    tracking_recorder_class = BoundedTrackingRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The pool is created closed; its first connection is made after this.
        pool_kwargs = self.datastore.pool.kwargs
        assert isinstance(pool_kwargs, dict)
        pool_kwargs["options"] = session_options(self.env)
