"""A Python client for the handoff-ledger HTTP API (``handoff serve``), sync and async.

Three lines to ack a handoff from an agent's process::

    from handoff_ledger.client import Client
    ledger = Client("http://127.0.0.1:8000", token="hl_...")
    ledger.ack(handoff_id, eta="2h", next_update="30m")

Methods are named as the CLI's commands (``send``, ``ack``, ``status``, ``complete``,
``fail``, ``decline``, ``cancel``, ``reassign``, ``reply``, ``note``, ``get``, ``inbox``,
``overdue``, ``chain``, ``log``/``iter_log``, ``notifications``, ``projections``,
``healthz``, ``next``) and
take the HTTP bodies' field names. They return the server's JSON documents as dicts,
the same documents ``handoff … --json`` prints. :class:`AsyncClient` has the same
methods, awaited. Errors are typed by HTTP status (see :class:`HandoffLedgerError`).

``next`` takes an agent's next handoff (acking it), and ``work(handler, ...)`` runs a
handler on each one, keeping the update promises and recording how it ended::

    def fix(job):
        job.progress("reproduced")
        return {"fix": "PR #412"}          # raise Fail(reason) / Decline(reason) instead

    ledger.work(fix, agent="code_agent", worker="fixer", concurrency=4)

This package imports none of the server's code: it needs httpx and nothing else.
"""

from handoff_ledger.client._async import AsyncClient
from handoff_ledger.client._calls import Document
from handoff_ledger.client._errors import (
    Conflict,
    Forbidden,
    HandoffLedgerError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
)
from handoff_ledger.client._sync import Client
from handoff_ledger.client._work import Decline, Fail, Job

__all__ = [
    "AsyncClient",
    "Client",
    "Conflict",
    "Decline",
    "Document",
    "Fail",
    "Forbidden",
    "HandoffLedgerError",
    "InvalidInput",
    "Job",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "Unauthorized",
]
