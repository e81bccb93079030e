"""How a store fails when the URL is wrong: it holds no ledger (fix the URL, or create one).

::

    HandoffError
    └── InvalidInput
        └── NoLedger          the URL holds no ledger (a read never creates one): exit 2
"""

from __future__ import annotations

from handoff_ledger.domain.errors import InvalidInput

__all__ = ["NoLedger"]


class NoLedger(InvalidInput):
    """The store URL names a place that holds no ledger, and the command only reads."""

    code = "no_ledger"
