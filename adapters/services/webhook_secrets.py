"""Webhook signing secrets, kept outside the event log (Standard Webhooks).

A webhook's receiver tells a real delivery from a forged one by its signature: the
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers of the
`Standard Webhooks <https://www.standardwebhooks.com/>`_ specification, HMAC-SHA256
over ``<id>.<timestamp>.<body>`` with the agent's secret (``whsec_`` + base64).

The secrets are rows of ``hl_webhook_secrets`` in the ledger's database, never
events: the log is immutable and everyone with a token may read it, so a secret
recorded there could never be taken back, and ``log``, ``export`` and anchors would
carry it. ``handoff agents webhook-secret set NAME`` writes a new current secret;
the previous ones stay valid until ``keep_old`` has passed (24 h by default), and
meanwhile every delivery carries one signature per valid secret (the specification
allows several, space-separated), so a receiver switches at its own pace.
``remove --old`` ends a rotation early; ``remove`` without it stops signing.
"""

from __future__ import annotations

import base64
import binascii
import secrets as random
from dataclasses import dataclass
from datetime import datetime, timedelta

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views.store import ViewStore, rowcount
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.projections.base import Column, from_us, us

__all__ = [
    "KEEP_OLD",
    "PREFIX",
    "SECRETS",
    "SecretInfo",
    "WebhookSecrets",
    "new_secret",
    "signature_headers",
]

SECRETS = "hl_webhook_secrets"
PREFIX = "whsec_"
KEEP_OLD = timedelta(hours=24)
"""How long the secret a rotation replaces keeps signing, by default."""
_DDL_LOCK = 7_310_452_923
_SIZES = range(24, 65)  # the specification's advice: 24 to 64 bytes of key


def new_secret() -> str:
    """A fresh secret in the specification's form: ``whsec_`` + base64 of 32 bytes."""
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def check_secret(text: str) -> str:
    """A secret given by the user, checked (``whsec_`` + base64 of 24 to 64 bytes)."""
    raw = text.removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not text.startswith(PREFIX) or len(key) not in _SIZES:
        raise InvalidInput(
            "secret: must be whsec_ followed by the base64 of 24 to 64 random bytes "
            "(leave --secret out to have one generated)"
        )
    return text


def signature_headers(secrets: list[str], msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt, one signature per secret."""
    from standardwebhooks.webhooks import Webhook  # only a pass that signs pays for it

    signatures = " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass(frozen=True)
class SecretInfo:
    """One stored secret, without its value: whose, since when, until when."""

    agent: str
    created_at: datetime
    expires_at: datetime | None  # None: the current secret
    fingerprint: str  # the first 8 base64 characters of its SHA-256, to tell them apart


class WebhookSecrets:
    """The ``hl_webhook_secrets`` table of one ledger."""

    def __init__(self, ledger: Ledger, store: ViewStore) -> None:
        self.ledger = ledger
        self.store = store
        self.dialect = store.dialect
        self.table = self.dialect.table(SECRETS)

    def set(self, agent: str, secret: str | None, keep_old: timedelta = KEEP_OLD) -> str:
        """Make ``secret`` (or a fresh one) the agent's current secret; return it.

        The secrets it replaces sign on until ``keep_old`` from now.
        """
        self.ledger.require_declared(agent, "agent")
        if keep_old < timedelta(0):
            raise InvalidInput("keep_old: must not be negative")
        value = new_secret() if secret is None else check_secret(secret)
        self.create_table()
        now = self.ledger.clock.now()
        m = self.dialect.mark
        with self.store.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table} WHERE agent = {m} AND expires_us <= {m}",
                (agent, us(now)),
            )
            cursor.execute(
                f"UPDATE {self.table} SET expires_us = {m} "
                f"WHERE agent = {m} AND expires_us IS NULL",
                (us(now + keep_old), agent),
            )
            cursor.execute(
                f"DELETE FROM {self.table} WHERE agent = {m} AND secret = {m}", (agent, value)
            )
            cursor.execute(
                f"INSERT INTO {self.table} (agent, secret, created_us, expires_us) "
                f"VALUES ({m}, {m}, {m}, NULL)",
                (agent, value, us(now)),
            )
        return value

    def remove(self, agent: str, *, old_only: bool = False) -> int:
        """Forget the agent's secrets (``old_only``: all but the current one); how many."""
        if not self._table_exists():
            return 0
        only = " AND expires_us IS NOT NULL" if old_only else ""
        with self.store.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table} WHERE agent = {self.dialect.mark}{only}", (agent,)
            )
            return rowcount(cursor)

    def listing(self) -> list[SecretInfo]:
        """Every secret still valid, by agent, newest first (never the value)."""
        import hashlib

        if not self._table_exists():
            return []
        now_us = us(self.ledger.clock.now())
        rows = self.store.query(
            f"SELECT agent, secret, created_us, expires_us FROM {self.table} "
            "WHERE expires_us IS NULL OR expires_us > ? ORDER BY agent, created_us DESC",
            [now_us],
        )
        return [
            SecretInfo(
                agent=row["agent"],
                created_at=from_us(row["created_us"]),  # type: ignore[arg-type]
                expires_at=from_us(row["expires_us"]),
                fingerprint=base64.b64encode(
                    hashlib.sha256(row["secret"].encode()).digest()
                ).decode()[:8],
            )
            for row in rows
        ]

    def signing(self, agents: list[str]) -> dict[str, list[str]]:
        """Agent → the secrets that sign its deliveries now, current one first."""
        if not agents or not self._table_exists():
            return {}
        now_us = us(self.ledger.clock.now())
        marks = ", ".join("?" for _ in agents)
        rows = self.store.query(
            f"SELECT agent, secret FROM {self.table} WHERE agent IN ({marks}) "
            "AND (expires_us IS NULL OR expires_us > ?) "
            "ORDER BY agent, expires_us IS NOT NULL, created_us DESC",
            [*agents, now_us],
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["agent"], []).append(row["secret"])
        return found

    # ------------------------------------------------------------------ schema

    def _table_exists(self) -> bool:
        return SECRETS in self.store.existing_tables()

    def create_table(self) -> None:
        """Create the table once (no DDL at all when it exists: older stores keep working)."""
        if self._table_exists():
            return
        integer = self.dialect.type_of(Column.INT)
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (agent TEXT, secret TEXT, "
                f"created_us {integer}, expires_us {integer}, PRIMARY KEY (agent, secret))"
            )
