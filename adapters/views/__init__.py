"""The read side in the ledger's database: view tables, their runner, their queries."""

from __future__ import annotations

from handoff_ledger.adapters.views.service import Views

__all__ = ["Views"]
