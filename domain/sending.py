"""What a send means under a protocol: the kind's defaults filled in, every name checked.

``Ledger.send`` and the what-if simulation (``handoff protocol simulate``) both resolve a
send here, so a handoff replayed under a candidate protocol gets exactly the defaults,
the payload check and the agent checks a live send would get under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.protocol import KindSpec, Protocol

__all__ = ["ResolvedSend", "resolve_send"]


@dataclass(frozen=True)
class ResolvedSend:
    """A send with its kind's defaults applied: what ``Handoff.request`` is given."""

    to: str
    kind: str | None
    trigger: str | None
    priority: Priority
    payload: dict[str, Any] | None
    ack_within: timedelta | None
    deadline: timedelta | datetime | None
    escalate_to: list[str] | None
    spec: KindSpec | None


def resolve_send(
    protocol: Protocol | None,
    *,
    sender: str,
    to: str | None = None,
    kind: str | None = None,
    trigger: str | None = None,
    priority: Priority | None = None,
    payload: dict[str, Any] | None = None,
    ack_within: timedelta | None = None,
    deadline: timedelta | datetime | None = None,
    escalate_to: list[str] | None = None,
    receivers_kind: bool = False,
) -> ResolvedSend:
    """Apply ``protocol`` (None: free-form) to a send: defaults, schema, declared agents.

    A value given stays; a value left out takes the kind's. ``receivers_kind``: without
    a ``kind``, the one kind the protocol routes to ``to``, if it routes exactly one.
    Raises the same errors a live send does (unknown agent or kind, payload invalid).
    """
    spec: KindSpec | None = None
    if protocol is not None:
        protocol.agent(sender, "from")
        if kind is None and receivers_kind and to is not None:
            routed = [k.name for k in protocol.kinds.values() if k.to == to]
            kind = routed[0] if len(routed) == 1 else None
        if kind is not None:
            spec = protocol.kind(kind)
    if spec is not None:
        to = to or spec.to
        priority = priority or spec.priority
        ack_within = ack_within or spec.ack_within
        deadline = deadline or spec.deadline
        escalate_to = escalate_to or list(spec.escalate_to)
        trigger = trigger or spec.trigger
        spec.validate_payload(payload or {})
    if to is None:
        raise InvalidInput(
            "to: required: name the receiver, or a kind whose protocol entry routes it to one"
        )
    if protocol is not None:
        protocol.agent(to, "to")
        for target in escalate_to or []:
            protocol.agent(target, "escalate_to")
    return ResolvedSend(
        to=to,
        kind=kind,
        trigger=trigger,
        priority=priority or Priority.MEDIUM,
        payload=payload,
        ack_within=ack_within,
        deadline=deadline,
        escalate_to=escalate_to,
        spec=spec,
    )
