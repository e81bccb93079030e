"""The error an integration raises when its framework is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(integration: str, extra: str, error: ImportError) -> ImportError:
    """An :class:`ImportError` naming the extra that brings ``integration``'s framework."""
    return ImportError(
        f"handoff_ledger.integrations.{integration} needs {error.name or 'its framework'}:"
        f" pip install 'handoff-ledger[{extra}]'",
        name=error.name,
    )
