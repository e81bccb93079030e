"""An agent's subscription to a chain: it hears every broadcast on that chain.

A watch is recorded as an event in the same store as the handoffs, so the
notification feeds are rebuilt from the log like every other view.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from handoff_ledger.domain import rules

__all__ = ["ChainWatch"]


class ChainWatch(Aggregate):
    """``agent`` watches ``chain_id``; one aggregate per (chain, agent) pair."""

    class Started(Aggregate.Created):
        """The agent subscribed to the chain's broadcasts."""

        by: str
        chain_id: UUID

    def __init__(self, by: str, chain_id: UUID) -> None:
        self.agent = by
        self.chain_id = chain_id

    @staticmethod
    def id_for(chain_id: UUID, agent: str) -> UUID:
        """The one id a (chain, agent) watch can have: watching twice is a no-op."""
        return uuid5(chain_id, agent)

    @classmethod
    def start(cls, *, chain_id: UUID, agent: str, now: datetime) -> ChainWatch:
        """Subscribe ``agent`` to ``chain_id``."""
        rules.require_agent_name(agent, "as")
        return cls._create(
            cls.Started,
            id=cls.id_for(chain_id, agent),
            timestamp=now,
            by=agent,
            chain_id=chain_id,
        )
