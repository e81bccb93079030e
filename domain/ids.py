"""Handoff and chain ids as callers type them: a UUID, a short id (its first 8 or more hex
digits, as every face shows them), or a clear refusal naming the field."""

from __future__ import annotations

from uuid import UUID

from handoff_ledger.domain.errors import HandoffError, InvalidInput, UnknownHandoff

__all__ = ["MIN_PREFIX", "parse_id", "read_id"]

MIN_PREFIX = 8
"""The fewest hex digits a short id may have (the faces show 8: ``inbox_monitor/f43acbe8``)."""
_HEX = frozenset("0123456789abcdef")

SHOWN = 40
"""How much of a bad id a message quotes (an id is 36 characters)."""


def parse_id(
    text: str,
    name: str = "id",
    *,
    error: type[HandoffError] = InvalidInput,
    noun: str = "a handoff id",
) -> UUID:
    """``text`` (surrounding whitespace ignored) as a UUID, else ``error`` naming ``name``.

    Every face reads ids through this; a face that answers an unknown path with 404
    passes ``error=UnknownHandoff``.
    """
    try:
        return UUID(text.strip())
    except ValueError:
        raise error(f"{name}: {text[:SHOWN]!r} is not {noun} (a UUID)") from None


def read_id(
    text: str,
    name: str = "id",
    *,
    noun: str = "a handoff id",
    error: type[HandoffError] = UnknownHandoff,
) -> UUID | str:
    """``text`` as a UUID, or as the lowercase hex digits of a short id (dashes dropped)
    to be looked up; else :class:`UnknownHandoff` naming ``name``.

    The refusal is the same on every face: an id that cannot name a handoff names
    none (HTTP 404, CLI exit 2, MCP ``unknown_handoff``); a field that refers to
    another handoff (``parent_id``) passes ``error=InvalidInput``, as for a parent
    that does not exist.
    """
    stripped = text.strip()
    try:
        return UUID(stripped)
    except ValueError:
        pass
    digits = stripped.replace("-", "").lower()
    if MIN_PREFIX <= len(digits) < 32 and _HEX.issuperset(digits):
        return digits
    raise error(
        f"{name}: {text[:SHOWN]!r} is not {noun} (a UUID, or its first {MIN_PREFIX} or more "
        "hex digits)"
    )
