"""The HTTP API of ``handoff serve`` (FastAPI): see docs/http.md."""

from handoff_ledger.adapters.http.app import MAX_BODY_BYTES, create_app

__all__ = ["MAX_BODY_BYTES", "create_app"]
