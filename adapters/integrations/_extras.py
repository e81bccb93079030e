"""The error an integration raises when its framework is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(integration: str, framework: str, extra: str, error: ImportError) -> ImportError:
    """An :class:`ImportError` saying which extra brings ``integration``'s framework."""
    return ImportError(
        f"handoff_ledger.integrations.{integration} needs {framework}"
        f" (no module {error.name!r}): pip install 'handoff-ledger[{extra}]'",
        name=error.name,
    )
