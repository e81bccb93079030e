"""Ids as callers type them, resolved against the ledger: a UUID, or a unique short id.

Every face shows a handoff by its first 8 hex digits (``inbox_monitor/f43acbe8``), so
every face takes that back: the CLI, the HTTP API, MCP and the dashboard's search all
read ids through :func:`resolve_id`. A short id that starts no handoff is unknown; one
that starts several is refused listing them.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.utils import get_topic

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.rows import ids_created_with_prefix
from handoff_ledger.domain.errors import HandoffError, InvalidInput, UnknownHandoff
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.ids import read_id

__all__ = ["SHOWN_MATCHES", "resolve_id"]

SHOWN_MATCHES = 5
"""How many of an ambiguous short id's handoffs the refusal lists."""

_CREATED = get_topic(Handoff.Created)


def resolve_id(
    ledger: Ledger,
    given: str | UUID,
    name: str = "id",
    *,
    noun: str = "a handoff id",
    error: type[HandoffError] = UnknownHandoff,
) -> UUID:
    """The handoff id ``given`` names: itself if a UUID, else the one handoff whose id
    starts with its hex digits (``error`` if none, bad input if several)."""
    read = given if isinstance(given, UUID) else read_id(given, name, noun=noun, error=error)
    if isinstance(read, UUID):
        return read
    found = ids_created_with_prefix(ledger, read, _CREATED, SHOWN_MATCHES + 1)
    if len(found) == 1:
        return found[0]
    if not found:
        raise error(f"{name}: no handoff id starts with {read!r}")
    listed = ", ".join(str(i) for i in found[:SHOWN_MATCHES])
    more = " and more" if len(found) > SHOWN_MATCHES else ""
    raise InvalidInput(
        f"{name}: {read!r} is ambiguous: it starts {listed}{more}; give more of the id"
    )
