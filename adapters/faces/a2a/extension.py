"""The ledger's A2A extension: what A2A has no field for, in ``metadata[URI]``.

Inbound (a message's metadata): ``kind``, ``key`` (idempotency), ``priority``,
``deadline``, ``ack_within``, ``escalate_to``. Outbound (a task's, a message's and
an update's metadata): the handoff's ``position`` (its version: the last update a
client saw, to resume from), ``event``, ``state``, ``priority``, ``deadline``,
``eta``, ``next_update_due``, ``queue_position``, ``sender``, ``receiver``, ``kind``.
The card declares the extension (docs/a2a.md lists every field).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from a2a.types.a2a_pb2 import AgentExtension

from handoff_ledger.adapters.services.a2a_remote import EXTENSION_URI
from handoff_ledger.domain.durations import parse_deadline, parse_duration
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.priorities import Priority

__all__ = ["URI", "Requested", "declaration", "requested"]

URI = EXTENSION_URI
"""The extension's identifier: the key of its object in every ``metadata`` (defined
with the bridge, which sends it to remote agents)."""

_INBOUND = {"kind", "key", "priority", "deadline", "ack_within", "escalate_to"}


@dataclass(frozen=True)
class Requested:
    """What a client asked for through the extension (all optional)."""

    kind: str | None = None
    key: str | None = None
    priority: Priority | None = None
    deadline: timedelta | datetime | None = None
    ack_within: timedelta | None = None
    escalate_to: list[str] | None = None


def requested(metadata: dict[str, Any] | None) -> Requested:
    """The extension's fields of a message's ``metadata``, checked (bad ones name their field)."""
    fields = (metadata or {}).get(URI)
    if fields is None:
        return Requested()
    where = f"metadata.{URI}"
    if not isinstance(fields, dict):
        raise InvalidInput(f"{where}: must be a JSON object")
    unknown = sorted(set(fields) - _INBOUND)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}: not a field of the extension")

    def text(name: str) -> str | None:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{where}.{name}: must be a string")
        return value

    targets = fields.get("escalate_to")
    if targets is not None and not (
        isinstance(targets, list) and all(isinstance(t, str) for t in targets)
    ):
        raise InvalidInput(f"{where}.escalate_to: must be a list of agent names")
    priority, deadline, ack_within = text("priority"), text("deadline"), text("ack_within")
    return Requested(
        kind=text("kind"),
        key=text("key"),
        priority=Priority.parse(priority) if priority is not None else None,
        deadline=parse_deadline(deadline) if deadline is not None else None,
        ack_within=parse_duration(ack_within, name="ack_within") if ack_within else None,
        escalate_to=targets,
    )


def declaration() -> AgentExtension:
    """The extension as a card declares it (optional: plain A2A clients need none of it)."""
    extension = AgentExtension(
        uri=URI,
        description="handoff-ledger: idempotency key, kind, priority, deadline, ack_within "
        "and escalate_to on messages; position (to resume a stream), ETA, next-update "
        "promise, queue position, priority and deadline on tasks and updates.",
        required=False,
    )
    return extension
