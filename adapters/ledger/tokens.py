"""Bearer tokens for the HTTP API and the MCP server: create, check, list, revoke.

Tokens are ``AgentToken`` aggregates in the ledger's own store (hash only), so every
process and host sees the same tokens and a revocation takes effect on the next
request everywhere. The secret is ``hl_`` plus 32 random bytes (URL-safe base64).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.rules import is_reserved
from handoff_ledger.domain.tokens import AgentToken, token_hash

__all__ = ["Caller", "TokenInfo", "authenticate", "issue_token", "list_tokens", "revoke_tokens"]

PREFIX = "hl_"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the agent a valid token speaks for, and whether the token is an
    admin token (the protocol's own admins are admins whatever their token says)."""

    agent: str
    admin: bool


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the secret, only the start of its hash."""

    agent: str
    admin: bool
    hash_prefix: str
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None


def issue_token(ledger: Ledger, agent: str, *, admin: bool = False, by: str = "admin") -> str:
    """Create a token for ``agent`` and return its secret (shown once, never stored)."""
    ledger.require_declared(agent, "agent")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = AgentToken.issue(agent=agent, admin=admin, secret=secret, by=by, now=ledger.clock.now())
    ledger.save(token)
    return secret


def authenticate(ledger: Ledger, secret: str) -> Caller | None:
    """The caller a token speaks for, or ``None`` if it is unknown or revoked."""
    if not secret.startswith(PREFIX):
        return None
    try:
        token: object = ledger.repository.get(AgentToken.id_for(token_hash(secret)))
    except AggregateNotFoundError:
        return None
    if not isinstance(token, AgentToken) or not token.active:
        return None
    if is_reserved(token.agent):
        return None  # issued before the ledger's own names were reserved: speaks for no one
    return Caller(agent=token.agent, admin=token.admin)


def list_tokens(ledger: Ledger) -> list[TokenInfo]:
    """Every token ever issued, oldest first."""
    found = []
    for token in _tokens(ledger):
        found.append(
            TokenInfo(
                agent=token.agent,
                admin=token.admin,
                hash_prefix=token.hashed[:12],
                issued_at=token.created_on,
                issued_by=token.issued_by,
                revoked_at=token.revoked_at,
            )
        )
    return found


def revoke_tokens(
    ledger: Ledger, *, agent: str | None = None, secret: str | None = None, by: str = "admin"
) -> int:
    """Revoke one token (by its secret) or every active token of ``agent``; returns how many."""
    if (agent is None) == (secret is None):
        raise InvalidInput("revoke: give an agent name or --token, not both")
    if secret is not None:
        try:
            found: object = ledger.repository.get(AgentToken.id_for(token_hash(secret)))
        except AggregateNotFoundError:
            raise InvalidInput("token: no such token") from None
        assert isinstance(found, AgentToken)
        token = found
        token.revoke(by=by, now=ledger.clock.now())
        ledger.save(token)
        return 1
    active = [t for t in _tokens(ledger) if t.agent == agent and t.active]
    if not active:
        raise InvalidInput(f"agent: {agent!r} has no active token")
    for token in active:
        token.revoke(by=by, now=ledger.clock.now())
    ledger.save(*active)
    return len(active)


def _tokens(ledger: Ledger) -> list[AgentToken]:
    topic = get_topic(AgentToken.Issued)
    found = []
    for notification in ledger.recorder.select_notifications(
        start=1, limit=1_000_000, topics=[topic]
    ):
        token: object = ledger.repository.get(UUID(str(notification.originator_id)))
        assert isinstance(token, AgentToken)
        found.append(token)
    return found
