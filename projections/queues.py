"""Per-receiver queues: which open handoffs an agent holds, and in what order.

The order is PRODUCT.md's: priority (critical first), then creation time, then id.
Position 1 is the head. Kept apart from any store so the CLI's direct fold, the
views and the tests all order queues with this one function.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from handoff_ledger.domain.handoff import Handoff

__all__ = ["queue_for", "queue_key", "queue_position"]


def queue_key(handoff: Handoff) -> tuple[int, datetime, str]:
    """Sort key: higher priority first, then older first, then by id."""
    return (-handoff.priority_level.rank, handoff.created_on, str(handoff.id))


def queue_for(agent: str, handoffs: Iterable[Handoff]) -> list[Handoff]:
    """The agent's open handoffs, head of the queue first."""
    return sorted((h for h in handoffs if h.is_open and h.receiver == agent), key=queue_key)


def queue_position(handoff: Handoff, handoffs: Iterable[Handoff]) -> int | None:
    """1-based position of ``handoff`` in its receiver's queue; None once it is closed."""
    if not handoff.is_open:
        return None
    ids: list[UUID] = [h.id for h in queue_for(handoff.receiver, handoffs)]
    try:
        return ids.index(handoff.id) + 1
    except ValueError:
        return None
