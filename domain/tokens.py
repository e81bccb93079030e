"""Bearer tokens: which agent a caller of the HTTP API or the MCP server speaks for.

A token is recorded in the same store as the handoffs, by its SHA-256 hash only:
the secret is shown once, when it is created, and never stored. Each token is one
aggregate whose id is derived from its hash, so checking a presented token is one
lookup by id; revoking is an event, so the audit shows who could act as whom, when.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from handoff_ledger.domain import rules
from handoff_ledger.domain.errors import InvalidTransition

__all__ = ["AgentToken", "token_hash"]

TOKEN_NAMESPACE = UUID("0b7e8a1c-3f4d-4c2e-9a61-5d2f7c8e9b10")
"""uuid5 namespace: a token's hash maps to one aggregate id."""


def token_hash(secret: str) -> str:
    """The SHA-256 of a token, hex: the only form in which a token is kept."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AgentToken(Aggregate):
    """One bearer token: the agent it speaks for, whether it is an admin's, revoked."""

    class Issued(Aggregate.Created):
        """A token was created for ``agent`` (its hash is the aggregate's identity)."""

        agent: str
        admin: bool
        by: str
        hashed: str

    class Revoked(Aggregate.Event):
        """The token no longer authenticates anyone."""

        by: str

        def apply(self, aggregate: AgentToken) -> None:
            aggregate.revoked_at = self.timestamp

    def __init__(self, agent: str, admin: bool, by: str, hashed: str) -> None:
        self.agent = agent
        self.admin = admin
        self.issued_by = by
        self.hashed = hashed
        self.revoked_at: datetime | None = None

    @staticmethod
    def id_for(hashed: str) -> UUID:
        """The aggregate id of the token with this hash."""
        return uuid5(TOKEN_NAMESPACE, hashed)

    @classmethod
    def issue(cls, *, agent: str, admin: bool, secret: str, by: str, now: datetime) -> AgentToken:
        """Record a new token for ``agent`` (the caller generated ``secret``)."""
        rules.require_agent_name(agent, "agent")
        rules.require_unreserved(agent, "agent")
        hashed = token_hash(secret)
        return cls._create(
            cls.Issued,
            id=cls.id_for(hashed),
            timestamp=now,
            agent=agent,
            admin=admin,
            by=by,
            hashed=hashed,
        )

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None

    def revoke(self, *, by: str, now: datetime) -> None:
        """Revoke the token; revoking twice is refused (it says so)."""
        if not self.active:
            raise InvalidTransition(f"the token {self.hashed[:12]}… is already revoked")
        self.trigger_event(self.Revoked, timestamp=now, by=by)
