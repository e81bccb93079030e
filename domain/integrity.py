"""The hash chain that makes each handoff's history tamper-evident.

Every event of a handoff commits to the one before it: its ``hash`` is the SHA-256
of a canonical JSON document holding the event's type, handoff id, version, time,
the previous event's hash (``prev_hash``) and every field of the event. Altering
an event changes its hash; removing or inserting one breaks the link of the event
after it (and the version sequence). ``handoff audit verify`` recomputes the chain.

The canonical form is deliberately the same JSON an export line carries, so an
auditor can recompute every hash from ``handoff export`` output with any SHA-256
and JSON library, without this software (docs/audit.md shows how):

    sha256(json.dumps({"scheme": SCHEME, "type": ..., "handoff_id": ...,
                       "version": ..., "at": ..., "prev_hash": ..., "data": {...}},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
           .encode("utf-8")).hexdigest()

A chain is evidence against tampering done *around* the ledger (the database's
append-only guard disabled, rows edited by hand); it is not a signature: whoever
can write the database and recompute every later hash of a handoff can forge a
consistent tail. Comparing with an earlier export (or with the views, which
remember each handoff's last log position) catches that too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

__all__ = ["HASH_FIELDS", "SCHEME", "canonical", "event_digest", "plain"]

SCHEME = "handoff-ledger/sha256-v1"
"""Names the canonical form and the hash function; a future change gets a new name."""

HASH_FIELDS = ("prev_hash", "hash")
"""The chain's own fields: part of every event, never part of what is hashed."""


def plain(value: Any) -> Any:
    """A value as plain JSON: times ISO 8601 in UTC with ``Z``, ids as text.

    The same conversion as the CLI's JSON documents and the export, so what an
    auditor reads is exactly what was hashed.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def canonical(document: Any) -> bytes:
    """The one byte string a JSON document hashes as (sorted keys, no spaces, UTF-8).

    Times, ids and enums inside it are written as :func:`plain` writes them.
    """
    return _CANONICAL.encode(document).encode("utf-8")


def _plain_leaf(value: Any) -> Any:
    """What the JSON encoder cannot write itself, the way :func:`plain` writes it."""
    if isinstance(value, datetime):
        if value.tzinfo is UTC:  # the clock's own times: no conversion needed
            return value.isoformat().replace("+00:00", "Z")
        return plain(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum | Mapping | set | frozenset):
        return plain(value)
    raise TypeError(f"cannot hash {type(value).__name__} as JSON")


_CANONICAL = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=True,
    default=_plain_leaf,
)
"""One encoder for every event (``json.dumps`` with options builds one per call)."""


def event_digest(
    *,
    type_name: str,
    handoff_id: UUID | str,
    version: int,
    at: datetime,
    prev_hash: str | None,
    data: Mapping[str, Any],
) -> str:
    """The hash of one event: its identity, its place in the chain and its fields.

    ``data`` is every field of the event but the chain's own (``HASH_FIELDS``):
    ``by``, ``chain_id`` and the event type's fields. The C encoder walks it;
    only times, ids and enums reach Python (``_plain_leaf``).
    """
    document = {
        "scheme": SCHEME,
        "type": type_name,
        "handoff_id": str(handoff_id),
        "version": version,
        "at": _plain_leaf(at),
        "prev_hash": prev_hash,
        "data": {k: v for k, v in data.items() if k not in HASH_FIELDS},
    }
    return hashlib.sha256(canonical(document)).hexdigest()
