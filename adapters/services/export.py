"""``handoff export``: the log as JSON lines an auditor can read without this software.

One line per handoff event, oldest first (log position order). Each line holds
the event's place (``position``, ``handoff_id``, ``version``), what happened
(``type``, ``at``, ``by``, ``data``) and its link in the hash chain (``prev_hash``,
``hash``). ``data`` is exactly what was hashed, in the same plain JSON, so the
hash of every line can be recomputed with any SHA-256 and JSON library
(docs/audit.md shows how, with a dozen lines of standard Python).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.services.documents import UNREADABLE, too_deep
from handoff_ledger.adapters.services.vocabulary import (
    ExportEntry,
)
from handoff_ledger.adapters.store.rows import stored_events
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.integrity import HASH_FIELDS, SCHEME_V1, plain

__all__ = ["export_entry", "export_lines"]

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def export_entry(position: int, event: Any) -> ExportEntry:
    """One export line: the event with its position, its fields and its hash-chain link."""
    own = vars(event)
    sealed = own.get("hash") is not None
    fields = {k: v for k, v in own.items() if k not in _ENVELOPE | set(HASH_FIELDS)}
    deep = too_deep(fields)
    entry: ExportEntry = {
        "position": position,
        "at": plain(event.timestamp),
        "type": type(event).__name__,
        "handoff_id": str(event.originator_id),
        "version": event.originator_version,
        "chain_id": str(event.chain_id),
        "by": event.by,
        "data": None if deep else plain(fields),
        "scheme": (own.get("scheme") or SCHEME_V1) if sealed else None,
        "prev_hash": own.get("prev_hash"),
        "hash": own.get("hash"),
    }
    if deep:
        entry["unreadable"] = UNREADABLE
    return entry


def export_lines(
    views: Views,
    chain: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[ExportEntry]:
    """The export's lines: the whole log, or one chain's events, within the times.

    An unknown chain is refused here, before the first line: a streamed answer
    cannot turn into an error once it has begun.
    """
    ledger = views.ledger
    if chain is None:
        return (
            export_entry(entry.position, entry.event)
            for entry in ledger.read_log(since=since, until=until)
        )
    events = _chain_events(ledger, views, chain)
    return (
        export_entry(position, event)
        for position, event in events
        if (since is None or event.timestamp >= since)
        and (until is None or event.timestamp <= until)
    )


def _chain_events(ledger: Ledger, views: Views, some_id: UUID) -> list[tuple[int, Any]]:
    """Every event of the chain of ``some_id`` (a chain id or any of its handoffs)."""
    wanted = str(some_id)
    me = views.read.handoff(wanted)
    rows = views.read.chain(me["chain_id"] if me else wanted)
    if not rows:
        raise UnknownHandoff(f"chain: no handoff or chain has id {some_id}")
    decoder = EventDecoder(ledger.mapper)
    events = []
    for row in rows:
        for originator_id, version, topic, state, position in stored_events(
            ledger, UUID(row["handoff_id"])
        ):
            if topic in HANDOFF_TOPICS:
                events.append(
                    (position, decoder.decode_entry(topic, originator_id, version, state))
                )
    return sorted(events, key=lambda pair: pair[0])
