"""Webhook delivery: every feed entry of an agent with a ``webhook`` is POSTed to it.

Delivery is at least once, and a receiver dedupes by the ``Idempotency-Key`` header
(``<handoff id>:<log position>``, the same for every attempt at one entry). The
ledger's side works in three steps, each safe to crash in:

1. **Enqueue.** For each agent the protocol in force gives a webhook, the entries of
   its notification feed after the agent's enqueue cursor become ``pending`` rows
   of ``hl_deliveries`` (insert-or-ignore, cursor moved by compare-and-set, one
   transaction). Entries older than the protocol version that introduced the
   webhook are not sent: adding a webhook does not replay an agent's whole history.
2. **Claim.** Due rows are leased (``next_at`` moved ``LEASE`` ahead by
   compare-and-set), so two reactors rarely send the same entry at once; a reactor
   killed mid-delivery leaves a lease that simply runs out.
3. **Send and record.** Each agent's entries go out in cursor order on a thread of
   their own, so a slow or dead endpoint never holds up another agent. A 2xx marks
   the row delivered; anything else (an error status, a refused connection, a
   timeout) records the error and schedules a retry with exponential backoff
   (1 s, 2 s, 4 s … capped at ``MAX_BACKOFF``), for as long as it takes. A URL whose
   address is not public (:mod:`.webhook_guard`) is *refused*: recorded like an error,
   never tried again (unless the protocol in force sets ``allow_private_webhooks``).

Failures are visible in ``handoff reactor`` output and ``handoff projections status``.

An agent with a signing secret (:mod:`.webhook_secrets`, ``handoff agents webhook-secret
set``) gets every attempt signed as the Standard Webhooks specification says:
``webhook-id`` (the idempotency key, the same on every attempt), ``webhook-timestamp``
(the attempt's time, from the ledger's clock) and ``webhook-signature`` (one ``v1,``
signature per valid secret), over the exact bytes of the body sent.

The A2A face's push-notification configs are delivered the same way
(:mod:`.a2a_push`): their updates are enqueued as rows of the same table, under an
``agent`` of ``a2a-push:<task id>:<config id>``, and go out with the same lease,
address check and backoff. They are not signed: A2A has its own proof, the
``X-A2A-Notification-Token`` the client chose for the config (and its authentication).

Why this module is long: the three steps share one table's columns, lease and
compare-and-set rules; split apart, each half would restate them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from handoff_ledger.adapters.ledger.application import Ledger, ProtocolVersion
from handoff_ledger.adapters.services.a2a_push import PushConfigs
from handoff_ledger.adapters.services.documents import view_document
from handoff_ledger.adapters.services.webhook_secrets import WebhookSecrets, signature_headers
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.store import rowcount
from handoff_ledger.projections.base import Column, from_us, us

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DELIVERIES",
    "Attempt",
    "Deliveries",
    "DeliveryStatus",
    "backoff",
    "idempotency_key",
]

DELIVERIES = "hl_deliveries"
CURSORS = "hl_delivery_cursors"
LEASE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=5)
TIMEOUT_SECONDS = 5.0
BATCH = 200
_DDL_LOCK = 7_310_452_911  # pg_advisory_xact_lock key for creating these tables


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 1 s, 2 s, 4 s, … at most MAX_BACKOFF."""
    return min(timedelta(seconds=2 ** min(attempts - 1, 20)), MAX_BACKOFF)


def idempotency_key(row: dict[str, Any]) -> str:
    """One entry's id, the same on every attempt: ``<handoff id>:<log position>``."""
    return f"{row['handoff_id']}:{row['position']}"


@dataclass(frozen=True)
class Attempt:
    """One POST of one feed entry to one agent's webhook, and how it went."""

    agent: str
    position: int
    url: str
    attempts: int
    error: str | None
    refused: bool = False  # the address was not public: recorded, never tried again

    @property
    def delivered(self) -> bool:
        """True when the endpoint answered 2xx."""
        return self.error is None


@dataclass
class DeliveryStatus:
    """Per agent: delivered, pending and failing counts and the latest error."""

    agent: str
    delivered: int = 0
    pending: int = 0
    failing: int = 0
    last_error: str | None = None
    next_attempt: datetime | None = None
    oldest_pending: int | None = None


Poster = Callable[[str, bytes, dict[str, str]], int]
"""Sends one POST (url, JSON body as sent, headers) and returns the status code."""


class Deliveries:
    """The reactor's webhook deliveries for one ledger."""

    def __init__(self, ledger: Ledger, views: Views, poster: Poster | None = None) -> None:
        self.ledger = ledger
        self.views = views
        self.store = views.store
        self.dialect = views.store.dialect
        self._client: httpx.Client | None = None
        self.post = poster or self._post
        self._tables_ready = False
        self.allow_private = False
        """The protocol in force's ``allow_private_webhooks``, read by each pass."""
        self._pushes: PushConfigs | None = None
        self.secrets = WebhookSecrets(ledger, views.store)
        self._signing: dict[str, list[str]] = {}

    def close(self) -> None:
        """Close the HTTP client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ one pass

    def run_once(self) -> list[Attempt]:
        """Enqueue new feed entries, then send every delivery that is due."""
        if not self._tables_ready:
            self._create_tables()
            self._tables_ready = True
        current = self.ledger.protocol_in_force()
        webhooks = self.webhooks(current)
        self.allow_private = current is not None and current.protocol.allow_private_webhooks
        for agent, (url, since_us) in webhooks.items():
            self.enqueue(agent, url, since_us)
        self._enqueue_a2a_pushes()
        claimed = self.claim()
        if not claimed:
            return []
        if self._client is None:  # made here, before the worker threads share it
            import httpx  # here: every CLI command loads this module, few deliver

            self._client = httpx.Client(timeout=TIMEOUT_SECONDS)
        by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in claimed:
            by_agent[row["agent"]].append(row)
        # Read once per pass, before the threads: a rotation takes effect at the next pass.
        self._signing = self.secrets.signing([a for a in by_agent if a in webhooks])
        with ThreadPoolExecutor(max_workers=min(8, len(by_agent))) as pool:
            results = pool.map(self._send_all, by_agent.values())
            attempts = [attempt for batch in results for attempt in batch]
        self.record(attempts)
        return attempts

    def tables_ready(self) -> bool:
        """Whether this process has made sure the deliveries' tables exist (a pass did)."""
        return self._tables_ready

    def pushes_ready(self) -> bool:
        """Whether a pass found the A2A push table (it is not looked for again)."""
        return self._pushes is not None and self._pushes.ready

    def _enqueue_a2a_pushes(self) -> None:
        """The A2A face's push-notification configs' new updates (:mod:`.a2a_push`)."""
        if self._pushes is None:
            self._pushes = PushConfigs(self.ledger, self.store)
        self._pushes.enqueue(self._t(DELIVERIES))

    def webhooks(self, current: ProtocolVersion | None) -> dict[str, tuple[str, int]]:
        """Agent → (webhook URL, time from which its feed is delivered, in µs), under
        ``current``, the protocol in force (read once per pass by the caller).

        That time is when the oldest protocol version of the unbroken run of
        versions giving the agent this same URL was applied.
        """
        if current is None:
            return {}
        found: dict[str, tuple[str, int]] = {}
        for name, spec in current.protocol.agents.items():
            if spec.webhook is None:
                continue
            since = current.applied_at
            for version in range(current.version - 1, 0, -1):
                older = self.ledger.protocol_version(version)
                agent = older.protocol.agents.get(name)
                if agent is None or agent.webhook != spec.webhook:
                    break
                since = older.applied_at
            found[name] = (spec.webhook, us(since) or 0)
        return found

    # ------------------------------------------------------------------ steps

    def enqueue(self, agent: str, url: str, since_us: int) -> int:
        """Turn the agent's new feed entries into pending deliveries; returns how many."""
        m = self.dialect.mark
        total = 0
        while True:
            cursor_rows = self.store.query(
                f"SELECT position FROM {self._t(CURSORS)} WHERE agent = ?", [agent]
            )
            after = int(cursor_rows[0]["position"]) if cursor_rows else 0
            rows = self.views.read.notifications(agent, after=after, limit=BATCH)
            if not rows:
                return total
            now_us = us(self.ledger.clock.now()) or 0
            fresh = [r for r in rows if int(r["at_us"]) >= since_us]
            with self.store.transaction() as cursor:
                for row in fresh:
                    cursor.execute(
                        f"INSERT INTO {self._t(DELIVERIES)} (agent, position, url, body, "
                        f"attempts, next_at_us) VALUES ({self.dialect.marks(6)}) "
                        "ON CONFLICT (agent, position) DO NOTHING",
                        (agent, int(row["position"]), url, _body(agent, row), 0, now_us),
                    )
                last = int(rows[-1]["position"])
                if cursor_rows:
                    cursor.execute(
                        f"UPDATE {self._t(CURSORS)} SET position = {m} "
                        f"WHERE agent = {m} AND position = {m}",
                        (last, agent, after),
                    )
                else:
                    cursor.execute(
                        f"INSERT INTO {self._t(CURSORS)} (agent, position) VALUES ({m}, {m}) "
                        "ON CONFLICT (agent) DO NOTHING",
                        (agent, last),
                    )
            total += len(fresh)

    def claim(self) -> list[dict[str, Any]]:
        """Lease the deliveries that are due; another reactor will not take them now."""
        m = self.dialect.mark
        now_us = us(self.ledger.clock.now()) or 0
        due = self.store.query(
            f"SELECT * FROM {self._t(DELIVERIES)} WHERE delivered_us IS NULL "
            "AND next_at_us <= ? ORDER BY agent, position LIMIT ?",
            [now_us, BATCH],
        )
        if not due:
            return []
        claimed = []
        lease_us = now_us + int(LEASE.total_seconds() * 1_000_000)
        with self.store.transaction() as cursor:
            for row in due:
                cursor.execute(
                    f"UPDATE {self._t(DELIVERIES)} SET next_at_us = {m} "
                    f"WHERE agent = {m} AND position = {m} AND next_at_us = {m} "
                    "AND delivered_us IS NULL",
                    (lease_us, row["agent"], row["position"], row["next_at_us"]),
                )
                if rowcount(cursor) == 1:
                    claimed.append(row)
        return claimed

    def record(self, attempts: Sequence[Attempt]) -> None:
        """Mark what was delivered; schedule a retry, with the error, for the rest."""
        m = self.dialect.mark
        now = self.ledger.clock.now()
        with self.store.transaction() as cursor:
            for attempt in attempts:
                if attempt.delivered:
                    cursor.execute(
                        f"UPDATE {self._t(DELIVERIES)} SET delivered_us = {m}, "
                        f"attempts = {m}, last_error = NULL WHERE agent = {m} AND position = {m}",
                        (us(now), attempt.attempts, attempt.agent, attempt.position),
                    )
                elif attempt.refused:  # parked: no next attempt, the reason kept
                    cursor.execute(
                        f"UPDATE {self._t(DELIVERIES)} SET next_at_us = NULL, attempts = {m}, "
                        f"last_error = {m} WHERE agent = {m} AND position = {m} "
                        "AND delivered_us IS NULL",
                        (attempt.attempts, attempt.error, attempt.agent, attempt.position),
                    )
                else:
                    cursor.execute(
                        f"UPDATE {self._t(DELIVERIES)} SET next_at_us = {m}, attempts = {m}, "
                        f"last_error = {m} WHERE agent = {m} AND position = {m} "
                        "AND delivered_us IS NULL",
                        (
                            us(now + backoff(attempt.attempts)),
                            attempt.attempts,
                            attempt.error,
                            attempt.agent,
                            attempt.position,
                        ),
                    )

    def status(self) -> list[DeliveryStatus]:
        """Per agent with deliveries: how many went, wait, fail; the latest error."""
        if not self._tables_exist():
            return []  # no reactor pass has run yet: nothing was ever delivered
        rows = self.store.query(
            f"SELECT agent, "
            "SUM(CASE WHEN delivered_us IS NOT NULL THEN 1 ELSE 0 END) AS delivered, "
            "SUM(CASE WHEN delivered_us IS NULL THEN 1 ELSE 0 END) AS pending, "
            "SUM(CASE WHEN delivered_us IS NULL AND attempts > 0 THEN 1 ELSE 0 END) AS failing, "
            "MIN(CASE WHEN delivered_us IS NULL THEN position END) AS oldest_pending, "
            "MIN(CASE WHEN delivered_us IS NULL THEN next_at_us END) AS next_at_us "
            f"FROM {self._t(DELIVERIES)} GROUP BY agent ORDER BY agent"
        )
        found = []
        for row in rows:
            errors = self.store.query(
                f"SELECT last_error FROM {self._t(DELIVERIES)} WHERE agent = ? "
                "AND delivered_us IS NULL AND last_error IS NOT NULL "
                "ORDER BY position DESC LIMIT 1",
                [row["agent"]],
            )
            next_us = row["next_at_us"]
            found.append(
                DeliveryStatus(
                    agent=row["agent"],
                    delivered=int(row["delivered"] or 0),
                    pending=int(row["pending"] or 0),
                    failing=int(row["failing"] or 0),
                    last_error=errors[0]["last_error"] if errors else None,
                    next_attempt=from_us(next_us),
                    oldest_pending=row["oldest_pending"],
                )
            )
        return found

    # ------------------------------------------------------------------ sending

    def _send_all(self, rows: list[dict[str, Any]]) -> list[Attempt]:
        """One agent's claimed entries, in cursor order (runs on a worker thread)."""
        return [self._send(row) for row in sorted(rows, key=lambda r: int(r["position"]))]

    def _send(self, row: dict[str, Any]) -> Attempt:
        attempts = int(row["attempts"]) + 1
        body = json.loads(row["body"])
        headers = {
            "Idempotency-Key": body["idempotency_key"],
            "X-Handoff-Agent": row["agent"],
            "X-Handoff-Attempt": str(attempts),
            **body.get("headers", {}),  # an A2A push's token and authentication
        }
        body = body.get("payload", body)  # an A2A push posts its StreamResponse as is
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        secrets = self._signing.get(row["agent"])
        if secrets:  # the exact bytes sent are the bytes signed
            at = self.ledger.clock.now()
            headers.update(signature_headers(secrets, headers["Idempotency-Key"], at, content))
        error: str | None
        import httpx  # loaded by run_once before any delivery is sent

        from handoff_ledger.adapters.services.webhook_guard import WebhookRefused

        try:
            code = self.post(row["url"], content.encode(), headers)
        except WebhookRefused as exc:
            error = f"refused: {exc}"[:500]
            return Attempt(row["agent"], int(row["position"]), row["url"], attempts, error, True)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            error = None if 200 <= code < 300 else f"HTTP {code}"
        return Attempt(row["agent"], int(row["position"]), row["url"], attempts, error)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST to the address :func:`.webhook_guard.resolve` checked (redirects not followed)."""
        from handoff_ledger.adapters.services.webhook_guard import resolve

        assert self._client is not None
        target = resolve(url, self.allow_private)
        answer = self._client.post(
            target.url,
            content=body,
            headers={**headers, "Content-Type": "application/json", **target.headers},
            extensions=target.extensions,
        )
        return answer.status_code

    # ------------------------------------------------------------------ schema

    def _t(self, name: str) -> str:
        return self.dialect.table(name)

    def _create_tables(self) -> None:
        integer = self.dialect.type_of(Column.INT)
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self._t(DELIVERIES)} (agent TEXT, position {integer}, "
            f"url TEXT, body TEXT, attempts {integer}, next_at_us {integer}, "
            f"delivered_us {integer}, last_error TEXT, PRIMARY KEY (agent, position))",
            f'CREATE INDEX IF NOT EXISTS "{DELIVERIES}_due" ON {self._t(DELIVERIES)} '
            "(next_at_us) WHERE delivered_us IS NULL",
            f"CREATE TABLE IF NOT EXISTS {self._t(CURSORS)} "
            f"(agent TEXT PRIMARY KEY, position {integer})",
        ]
        if self._tables_exist():
            return  # no DDL at all once they exist (it would lock tables in use)
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
                cursor.execute(
                    "SELECT count(*) AS n FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name IN (%s, %s)",
                    (self.dialect.schema or "public", DELIVERIES, CURSORS),
                )
                if cursor.fetchone()["n"] == 2:
                    return  # another process created them while we waited
            for statement in statements:
                cursor.execute(statement)

    def _tables_exist(self) -> bool:
        return {DELIVERIES, CURSORS} <= self.store.existing_tables()


def _body(agent: str, row: dict[str, Any]) -> str:
    """The JSON document POSTed for one feed entry (stored, so retries send the same)."""
    entry = {"cursor": row["position"], **view_document(row)}
    return json.dumps(
        {
            "idempotency_key": idempotency_key(row),
            "agent": agent,
            "notification": entry,
        },
        sort_keys=True,
    )
