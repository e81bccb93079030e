"""Every view the ledger keeps, by name."""

from __future__ import annotations

from handoff_ledger.projections.agents import AgentsProjection
from handoff_ledger.projections.base import Projection
from handoff_ledger.projections.chains import ChainsProjection
from handoff_ledger.projections.notifications import NotificationsProjection
from handoff_ledger.projections.queues import QueuesProjection
from handoff_ledger.projections.timers import TimersProjection
from handoff_ledger.projections.work import WorkProjection

__all__ = ["VIEW_NAMES", "all_projections"]


def all_projections() -> list[Projection]:
    """A fresh instance of every projection, in a fixed order."""
    return [
        QueuesProjection(),
        TimersProjection(),
        ChainsProjection(),
        AgentsProjection(),
        NotificationsProjection(),
        WorkProjection(),
    ]


VIEW_NAMES = tuple(p.name for p in all_projections())
