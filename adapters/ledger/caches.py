"""What the ledger keeps between commands, and how it knows a kept copy is still good.

Two caches save CPU per command (issue 24, item 5; docs/architecture.md "Caches"):

- :class:`HandoffCache`: recently used handoffs. A command starts from a private copy
  of the kept one, fast-forwarded with the events recorded after its version, instead
  of replaying every event of the handoff. A copy that is stale by the time it is
  saved (another process wrote in between) is refused by the store's optimistic
  concurrency, like any lost race; the ledger then drops the kept copy and reloads.
- the protocol in force, kept by the ledger itself and re-read only when a
  :class:`ProtocolWatch` says another process may have applied a version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol
from uuid import UUID

from handoff_ledger.domain.handoff import Handoff

__all__ = ["AlwaysCheck", "HandoffCache", "ProtocolMoved", "ProtocolWatch", "detached"]

CACHE_SIZE = 1024
"""Handoffs kept per ledger: a server's working set of open handoffs, a few MB."""

_CONTAINERS = (list, set, dict)


def detached(handoff: Handoff) -> Handoff:
    """A copy of ``handoff`` that no later change to either one reaches.

    Events replace the handoff's plain attributes and change its containers (the
    escalations set, the next steps dict) in place, so copying the attribute dict and
    each container one level deep detaches them; the values inside (payloads,
    results, times) are never changed in place. 3 µs, where ``deepcopy`` takes 39.
    """
    copy = Handoff.__new__(Handoff)
    state = vars(copy)
    for name, value in vars(handoff).items():
        state[name] = value.copy() if type(value) in _CONTAINERS else value
    return copy


class HandoffCache:
    """A bounded, least-recently-used set of handoffs, each kept as a private copy.

    Nothing outside holds a kept copy: :meth:`checkout` returns a new copy, and
    :meth:`keep` stores one. A copy with pending (unsaved) events is never kept.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._kept: OrderedDict[UUID, Handoff] = OrderedDict()
        self._lock = threading.Lock()

    def checkout(self, handoff_id: UUID) -> Handoff | None:
        """A private copy of the kept handoff (as of its version), or None."""
        with self._lock:
            kept = self._kept.get(handoff_id)
            if kept is None:
                return None
            self._kept.move_to_end(handoff_id)
            return detached(kept)

    def keep(self, handoff: Handoff) -> None:
        """Keep a copy of ``handoff`` (saved, no pending events), unless a newer one is kept."""
        if handoff.pending_events:
            return
        copy = detached(handoff)
        with self._lock:
            kept = self._kept.get(handoff.id)
            if kept is not None and kept.version >= copy.version:
                self._kept.move_to_end(handoff.id)
                return
            self._kept[handoff.id] = copy
            self._kept.move_to_end(handoff.id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def drop(self, handoff_id: UUID) -> None:
        """Forget the kept copy (a save of one made from it lost a race)."""
        with self._lock:
            self._kept.pop(handoff_id, None)

    def __len__(self) -> int:
        return len(self._kept)


class ProtocolWatch(Protocol):
    """Tells the ledger, cheaply, whether a protocol version may have been applied
    since it last asked (so the ledger re-reads the protocol only then)."""

    strict: bool
    """True when a "no" is certain (SQLite's ``data_version``); False when a version
    applied an instant ago may not have been announced yet (PostgreSQL's NOTIFY
    reaches a listener a moment after the commit), so writes are guarded too."""

    def may_have_changed(self) -> bool:
        """True if a version may have been applied since the last call (and on the first)."""

    def close(self) -> None:
        """Release what the watch holds (a connection)."""


class AlwaysCheck:
    """The watch of a store without one: the protocol is re-read before each use."""

    strict = True

    def may_have_changed(self) -> bool:
        """Always: re-read."""
        return True

    def close(self) -> None:
        """Nothing held."""


class ProtocolMoved(Exception):
    """A save was refused because a newer protocol version than the one the command
    was decided under had been recorded (PostgreSQL's guarded insert): decide again."""
