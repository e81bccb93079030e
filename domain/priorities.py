"""Priorities, ordered ``low`` < ``medium`` < ``high`` < ``critical``."""

from __future__ import annotations

from enum import StrEnum

from handoff_ledger.domain.errors import InvalidInput

__all__ = ["Priority"]


class Priority(StrEnum):
    """How urgent a handoff is; queues put higher ranks first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return _RANKS[self]

    @classmethod
    def parse(cls, text: str) -> Priority:
        """Read a priority name, refusing anything else with the accepted names."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise InvalidInput(f"priority: {text!r} is not one of {names}") from None


_RANKS = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}
