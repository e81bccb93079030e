"""Handoff and chain ids as callers type them: a UUID, or a clear refusal naming the field."""

from __future__ import annotations

from uuid import UUID

from handoff_ledger.domain.errors import HandoffError, InvalidInput

__all__ = ["parse_id"]

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
