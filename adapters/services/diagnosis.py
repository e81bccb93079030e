"""Chain-break diagnosis over a real ledger: histories in, breaks out.

The rules of what counts as a break live in :mod:`handoff_ledger.projections.breaks`;
this module feeds them: it loads each handoff of a chain with its history (as it
stood at a time, for ``--as-of``), tells them which follow-up route the protocol
version of each handoff declares, and turns the breaks into JSON documents.
``gaps`` asks the chains view which chains could have broken, so only those
chains' histories are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import SYSTEM_AGENTS, Ledger
from handoff_ledger.adapters.ledger.tokens import list_tokens
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.vocabulary import (
    BreakDocument,
    GapsChain,
    GapsDocument,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.protocol import FollowUp
from handoff_ledger.domain.states import State
from handoff_ledger.projections.base import us
from handoff_ledger.projections.breaks import Break, diagnose_chain

__all__ = ["break_document", "chain_breaks", "gaps_document", "ledger_admins"]


def ledger_admins(ledger: Ledger) -> frozenset[str]:
    """The agents that answer any break: the protocol's admins, and holders of an
    admin token not revoked."""
    current = ledger.protocol_in_force()
    declared = set()
    if current is not None:
        declared = {n for n in current.protocol.agents if current.protocol.is_admin(n)}
    tokens = {t.agent for t in list_tokens(ledger) if t.admin and t.revoked_at is None}
    return frozenset(declared | tokens)


def chain_breaks(
    ledger: Ledger,
    handoff_ids: Iterable[str],
    now: datetime,
    as_of: datetime | None = None,
    admins: frozenset[str] | None = None,
) -> list[Break]:
    """Every break of the chain made of ``handoff_ids`` at ``now`` (history up to ``as_of``).

    ``admins`` (default: :func:`ledger_admins`) answer any break, as participants do.
    """
    handoffs: list[Handoff] = []
    histories: dict[UUID, list[Handoff.Event]] = {}
    for text in handoff_ids:
        events = ledger.history(UUID(text), as_of=as_of)
        if not events:
            continue
        folded: Any = None
        for event in events:
            folded = event.mutate(folded)
        assert isinstance(folded, Handoff)
        handoffs.append(folded)
        histories[folded.id] = events

    def route_of(handoff: Handoff) -> FollowUp | None:
        spec = ledger.kind_spec(handoff)
        if spec is None:
            return None
        if handoff.state is State.COMPLETED:
            return spec.on_complete
        return spec.on_fail if handoff.state is State.FAILED else spec.on_decline

    if admins is None:
        admins = ledger_admins(ledger)
    return diagnose_chain(handoffs, histories, now, route_of, SYSTEM_AGENTS, admins)


def break_document(found: Break) -> BreakDocument:
    """One break as JSON: which handoff, what kind, whose move, which rule, since when."""
    return {
        "handoff_id": str(found.handoff_id),
        "kind": found.kind.value,
        "agent": found.agent,
        "rule": found.rule,
        "at": iso(found.at),
        "message": found.message,
    }


def gaps_document(views: Views, now: datetime, since: datetime | None = None) -> GapsDocument:
    """``gaps``: every broken chain (with a break at or after ``since``), earliest break first."""
    ledger = views.ledger
    admins = ledger_admins(ledger)
    chains: list[GapsChain] = []
    started: dict[str, int] = {}  # chain id -> its root's creation (us)
    for chain_id in views.read.broken_chain_candidates(us(now) or 0):
        rows = views.read.chain(chain_id)
        breaks = [
            b
            for b in chain_breaks(ledger, (r["handoff_id"] for r in rows), now, admins=admins)
            if since is None or b.at >= since
        ]
        if not breaks:
            continue
        root = rows[0]
        started[chain_id] = int(root["created_us"] or 0)
        chains.append(
            {
                "chain_id": chain_id,
                "root": {
                    "id": root["handoff_id"],
                    "kind": root["kind"],
                    "trigger": root["trigger"],
                    "sender": root["sender"],
                    "receiver": root["receiver"],
                },
                "handoffs": len(rows),
                "first_break_at": iso(breaks[0].at),
                "breaks": [break_document(b) for b in breaks],
            }
        )
    # Earliest break first; on a tie the older chain (its root created first), then id.
    chains.sort(key=lambda c: (c["first_break_at"] or "", started[c["chain_id"]], c["chain_id"]))
    return {"as_of": iso(now), "since": iso(since), "count": len(chains), "chains": chains}
