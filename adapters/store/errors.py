"""How a store fails: unreachable (try again later) versus no ledger there (fix the URL).

Two error kinds, kept apart because the user's next move differs::

    HandoffError
    ├── InvalidInput
    │   └── NoLedger          the URL holds no ledger (a read never creates one): exit 2, 404
    └── StoreUnavailable      the store cannot be reached, is locked past its bound,
                              is full or is read-only for a write: exit 4, HTTP 503

Each face maps them in one place (``cli/main.py``'s ``exit_code_for``,
``faces/runtime/errors.py``'s ``status_for``). :func:`store_failure` recognises a
driver error that means "the store is unavailable", wherever it was raised.
"""

from __future__ import annotations

import errno
import sqlite3
import sys

from handoff_ledger.domain.errors import HandoffError, InvalidInput

__all__ = ["NoLedger", "StoreUnavailable", "store_failure", "waited_past_bound"]


class StoreUnavailable(HandoffError):
    """The store cannot be reached, or a wait on it ran past its bound; nothing was written."""

    code = "store_unavailable"


class NoLedger(InvalidInput):
    """The store URL names a place that holds no ledger, and the command only reads."""

    code = "no_ledger"


_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
    "attempt to write a readonly database",
)
_OS_UNAVAILABLE = {errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT}


def store_failure(error: BaseException, store: str | None = None) -> StoreUnavailable | None:
    """A :class:`StoreUnavailable` naming the cause when ``error`` means the store failed.

    The library wraps driver errors in its own types (``raise ... from e``), so the
    whole cause chain is looked at. ``None`` for anything else (a bug stays a bug).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_unavailable(current):
            where = f"{store}: " if store else ""
            return StoreUnavailable(f"store unavailable: {where}{_first_line(current)}")
        current = current.__cause__ or current.__context__
    return None


_BOUND_REACHED = {"55P03", "57014"}
"""PostgreSQL's lock_not_available (``lock_timeout``) and query_canceled
(``statement_timeout``)."""


def waited_past_bound(error: BaseException) -> bool:
    """``error`` (or its cause) ended a PostgreSQL wait at its bound (a lock or
    statement timeout): the wait was already as long as allowed, so trying again
    would only multiply it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in _BOUND_REACHED:
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, StoreUnavailable):
        return True
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return any(text.startswith(known) for known in _SQLITE_UNAVAILABLE)
    if isinstance(error, OSError) and error.errno in _OS_UNAVAILABLE:
        return True
    psycopg = sys.modules.get("psycopg")  # loaded only by PostgreSQL stores
    # OperationalError covers a lost or refused connection, a lock or statement
    # timeout, a full disk, a server shutting down, and the pool's own timeout.
    return psycopg is not None and isinstance(error, psycopg.OperationalError)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
