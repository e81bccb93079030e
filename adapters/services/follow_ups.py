"""Follow-up routing: which follow-up a protocol routes for a closing event, to whom,
with what payload, under which idempotency key.

The reactor (``reactor.py``) creates the follow-ups with these; ``protocol simulate``
(``simulate.py``) replays the same decisions in memory. They read nothing but their
arguments.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.outline import Outline
from handoff_ledger.domain.protocol import FollowUp, KindSpec

__all__ = [
    "CLOSINGS",
    "FOLLOW_UP_KEY_PREFIX",
    "ClosingEvent",
    "follow_up_key",
    "follow_up_receiver",
    "follow_up_route",
    "map_payload",
]


ClosingEvent = Handoff.Completed | Handoff.Declined | Handoff.Failed
"""The events a protocol may route a follow-up from."""

CLOSINGS: tuple[type[Handoff.Event], ...] = (Handoff.Completed, Handoff.Declined, Handoff.Failed)
"""The same, as the classes the reactor reads from the log (only those)."""


def follow_up_route(spec: KindSpec | None, event: ClosingEvent) -> FollowUp | None:
    """The follow-up ``spec`` routes for a closing ``event`` (``on_complete``, …), if any."""
    if spec is None:
        return None
    if isinstance(event, Handoff.Completed):
        return spec.on_complete
    return spec.on_decline if isinstance(event, Handoff.Declined) else spec.on_fail


def follow_up_receiver(
    route: FollowUp, handoff: Handoff | Outline, event: ClosingEvent
) -> str | None:
    """Whom the follow-up goes to: the route's ``to``; else, after a decline or a
    failure, back to the sender; after a completion, the next kind's own route.
    (Of the handoff, only its sender is read: a what-if's recorded outline will do.)"""
    if route.to:
        return route.to
    return None if isinstance(event, Handoff.Completed) else handoff.sender


def follow_up_key(handoff_id: UUID, version: int | None) -> str:
    """The idempotency key of the follow-up of the event at ``version`` of a handoff."""
    return f"{FOLLOW_UP_KEY_PREFIX}{handoff_id}:{version}"


FOLLOW_UP_KEY_PREFIX = "follow-up:"


def map_payload(route: FollowUp, handoff: Handoff) -> dict[str, Any]:
    """The follow-up's payload: the route's table, ``$result.x``/``$payload.x`` resolved.

    ``$reason`` is the decline's (or cancellation's) reason.

    Without a table, the follow-up carries the completed handoff's result.
    """
    if not route.payload:
        return dict(handoff.result or {})
    sources = {"result": handoff.result or {}, "payload": handoff.payload}
    mapped: dict[str, Any] = {}
    for name, value in route.payload.items():
        if value == "$reason":
            if handoff.outcome_reason is not None:
                mapped[name] = handoff.outcome_reason
        elif isinstance(value, str) and value.startswith("$"):
            source, _, path = value[1:].partition(".")
            current: Any = sources.get(source, {})
            for part in path.split(".") if path else []:
                current = current.get(part) if isinstance(current, dict) else None
            if current is not None:
                mapped[name] = current
        else:
            mapped[name] = value
    return mapped
