"""Read a store URL (``sqlite:///PATH``, ``postgresql://...``) into eventsourcing settings.

This is the one place that knows how a URL maps to the library's persistence
environment, so the CLI, the server, the tests and the benchmarks open stores the
same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, quote, unquote, urlsplit

from handoff_ledger.domain.errors import InvalidInput

__all__ = [
    "DEFAULT_URL",
    "POOL_ENV",
    "SERVE_POOL_SIZE",
    "StoreURL",
    "parse_store_url",
    "session_options",
]

POOL_ENV = "HANDOFF_POOL_SIZE"
"""The pool size of a URL that names none (a URL's ``?pool_size=`` wins)."""

SERVE_POOL_SIZE = "10"
"""``handoff serve``'s pool size unless POOL_ENV or the URL says otherwise: its request
threads share the pool, and two connections would queue them under load."""

DEFAULT_URL = "sqlite:///handoff.db"
"""Without ``--db`` or ``HANDOFF_DB``: a SQLite file in the current folder."""

_PG_OPTIONS = {"schema", "pool_size", "connect_timeout", "lock_timeout"}
_SQLITE_OPTIONS = {"mode", "lock_timeout"}


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL: which backend, and the library settings that open it."""

    url: str
    backend: str
    env: dict[str, str]
    schema: str | None = None
    path: Path | None = None
    """The SQLite file (``None`` on PostgreSQL)."""
    read_only: bool = False
    """Opened read-only: ``?mode=ro``, or a SQLite file this process cannot write."""

    @property
    def redacted(self) -> str:
        """The URL with any password hidden, for messages and status output."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def parse_store_url(url: str | None) -> StoreURL:
    """Parse ``url`` (else ``HANDOFF_DB``, else :data:`DEFAULT_URL`)."""
    raw = url or os.environ.get("HANDOFF_DB") or DEFAULT_URL
    scheme = raw.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return _sqlite(raw)
    if scheme in ("postgresql", "postgres"):
        return _postgres(raw)
    raise InvalidInput(
        f"db: {raw!r} is not a store URL (use sqlite:///PATH or postgresql://USER@HOST/DB)"
    )


def _sqlite(raw: str) -> StoreURL:
    text, _, query = raw.partition("?")
    if not text.startswith("sqlite:///") or len(text) <= len("sqlite:///"):
        raise InvalidInput(
            f"db: {raw!r}: a SQLite URL reads sqlite:///relative.db or sqlite:////abs.db"
        )
    name = text[len("sqlite:///") :]
    options = _options(raw, query, _SQLITE_OPTIONS)
    if name == ":memory:" or name.startswith("file:") or options.get("mode") == "memory":
        # The library would accept it, and every handoff would vanish with the process.
        raise InvalidInput(
            f"db: {raw!r}: an in-memory SQLite database keeps nothing after the command; "
            "name a file (sqlite:///handoff.db)"
        )
    mode = options.get("mode", "rw")
    if mode not in ("rw", "ro"):
        raise InvalidInput(f"db: {raw!r}: option mode must be ro or rw, not {mode!r}")
    lock_timeout = options.get("lock_timeout", "30")
    if not lock_timeout.isdigit():
        raise InvalidInput(f"db: {raw!r}: option lock_timeout must be a whole number")
    path = Path(name)
    if path.is_dir():
        raise InvalidInput(f"db: {raw!r}: {path} is a folder, not a database file")
    if not path.parent.exists():
        raise InvalidInput(f"db: {raw!r}: folder {path.parent} does not exist")
    read_only = mode == "ro" or (path.exists() and not _writable(path))
    env = {
        "PERSISTENCE_MODULE": "handoff_ledger.adapters.store.sqlite:GroupCommitSQLiteFactory",
        "SQLITE_DBNAME": _read_only_uri(raw, path) if read_only else str(path),
        # Writers wait for each other instead of failing: racing agents queue up and
        # the loser is told by the optimistic-concurrency check, not by "locked".
        "SQLITE_LOCK_TIMEOUT": lock_timeout,
    }
    return StoreURL(url=raw, backend="sqlite", env=env, path=path, read_only=read_only)


def _writable(path: Path) -> bool:
    """Whether this process may change the file (SQLite also writes beside it)."""
    return os.access(path, os.W_OK) and os.access(path.parent or Path("."), os.W_OK)


def _read_only_uri(raw: str, path: Path) -> str:
    """SQLite's URI for a file it must neither change nor add a journal beside.

    ``immutable=1`` takes no locks and creates no ``-wal``/``-shm`` files, so an
    evidence copy stays byte for byte what it was. It also ignores a write-ahead
    log, so a copy that still has one beside it is refused rather than read short.
    """
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise InvalidInput(
            f"db: {raw!r}: opened read-only, but {wal} holds writes not yet in the file; "
            f'copy the ledger with: sqlite3 SOURCE ".backup {path}"'
        )
    return f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"


def _options(raw: str, query: str, known: set[str]) -> dict[str, str]:
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for key in options:
        if key not in known:
            raise InvalidInput(
                f"db: {raw!r}: unknown option {key!r} (known: {', '.join(sorted(known))})"
            )
    return options


def _postgres(raw: str) -> StoreURL:
    parts = _split(raw)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidInput(f"db: {raw!r}: a PostgreSQL URL needs a database name (…/DBNAME)")
    options = _options(raw, parts.query, _PG_OPTIONS)
    try:
        port = parts.port or 5432
        host = parts.hostname
    except ValueError:
        raise InvalidInput(f"db: {raw!r}: the port is not a number") from None
    schema = options.get("schema")
    env = {
        # The library's factory, with every connection's lock waits bounded.
        "PERSISTENCE_MODULE": "handoff_ledger.adapters.store.postgres:BoundedPostgresFactory",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host or "127.0.0.1",
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username or os.environ.get("PGUSER", "postgres")),
        "POSTGRES_PASSWORD": unquote(parts.password or os.environ.get("PGPASSWORD", "")),
        # Two connections: enough for a command, cheap for a CLI call; a server asks
        # for more through POOL_ENV (``handoff serve`` sets SERVE_POOL_SIZE).
        "POSTGRES_POOL_SIZE": options.get("pool_size", os.environ.get(POOL_ENV) or "2"),
        # The pool never grows past pool_size: the library's default would add up to
        # ten more connections per process under load, past the documented limit.
        "POSTGRES_MAX_OVERFLOW": "0",
        "POSTGRES_CONNECT_TIMEOUT": options.get("connect_timeout", "10"),
        "POSTGRES_LOCK_TIMEOUT": options.get("lock_timeout", "30"),
    }
    for key in ("pool_size", "connect_timeout", "lock_timeout"):
        if not env[f"POSTGRES_{key.upper()}"].isdigit():
            raise InvalidInput(f"db: {raw!r}: option {key} must be a whole number")
        if key != "connect_timeout" and int(env[f"POSTGRES_{key.upper()}"]) < 1:
            # lock_timeout=0 would mean "wait for ever" to PostgreSQL, pool_size=0 no pool.
            raise InvalidInput(f"db: {raw!r}: option {key} must be at least 1")
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return StoreURL(url=raw, backend="postgresql", env=env, schema=schema)


def _split(raw: str) -> SplitResult:
    try:
        return urlsplit(raw)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for postgresql://u@[::1/x
        raise InvalidInput(f"db: {raw!r} is not a valid URL: {exc}") from None


def session_options(env: Mapping[str, str]) -> str:
    """libpq ``options`` for every connection: every lock wait bounded (seconds in the
    URL), and no JIT compilation.

    Why no JIT: the ledger's statements are point lookups and small inserts, which JIT
    never makes faster; but where the events table has no planner statistics (a
    server without autovacuum, or before its first analyze) the planner's estimate
    for loading one handoff grows with the table, and past ``jit_above_cost`` (about
    4 to 5 million events) every load was compiled with LLVM: 2.5-2.9 ms instead of
    about 0.1 ms, and appends at half their rate (docs/performance.md, "Log growth").
    """
    seconds = int(env.get("POSTGRES_LOCK_TIMEOUT") or 30)
    return f"-c lock_timeout={seconds * 1000} -c jit=off"
