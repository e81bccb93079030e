"""The partitions a batch of events touches, and their rows fetched in one query per table.

Used by :mod:`.runner` before a batch's events are applied: each projection reads its
rows a partition (a handoff, a chain, an agent) at a time, and fetching all of a
batch's partitions together spares a round trip per partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handoff_ledger.adapters.views.sql import BatchTable
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.base import text_id

__all__ = ["partitions_of", "prefetch"]


def partitions_of(
    events: Sequence[tuple[int, Any]], used: set[str]
) -> tuple[list[str], list[str], list[str]]:
    """The handoffs, chains and agents ``events`` name (for the partition columns used)."""
    handoff_ids: dict[str, None] = {}
    chain_ids: dict[str, None] = {}
    agents: dict[str, None] = {}
    by_handoff, by_chain, by_agent = "handoff_id" in used, "chain_id" in used, "agent" in used
    for _, e in events:
        if by_handoff:
            handoff_ids[text_id(e.originator_id)] = None
        if by_chain:
            chain_ids[text_id(e.chain_id)] = None
        if by_agent:
            agents[e.by] = None
            if type(e) in _NAMING:
                agents.update(dict.fromkeys(_agents_of(e)))
    return list(handoff_ids), list(chain_ids), list(agents)


def prefetch(
    tables: dict[str, BatchTable],
    created: set[str],
    older: list[str],
    started: set[str],
    going: list[str],
    agents: list[str],
    skip: set[str],
) -> None:
    """Fetch the rows of the partitions a batch touches, one query per table (and chunk),
    but for the tables in ``skip`` (which none of the batch's events reads)."""
    for table in tables.values():
        if table.spec.append_only or table.spec.name in skip:
            continue
        if table.spec.partition == "handoff_id":
            table.assume_empty(created)
            table.prefetch(older)
        elif table.spec.partition == "chain_id":
            table.assume_empty(started)
            table.prefetch(going)
        elif table.spec.partition == "agent":
            table.prefetch(agents)


_NAMING = {Handoff.Created, Handoff.Reassigned, Handoff.Escalated}
"""Events that name agents besides the one who acted (:func:`_agents_of`)."""


def _agents_of(event: Any) -> tuple[str, ...]:
    """Every agent an event names (whose rows a projection may touch)."""
    names: tuple[str, ...] = (event.by,)
    if isinstance(event, Handoff.Created):
        names += (event.sender, event.receiver, *event.escalate_to)
    elif isinstance(event, Handoff.Reassigned):
        names += (event.from_receiver, event.to_receiver)
    elif isinstance(event, Handoff.Escalated):
        names += tuple(event.notified)
    return names
