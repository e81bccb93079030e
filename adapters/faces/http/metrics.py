"""``GET /metrics``: the ledger in Prometheus's text format (docs/metrics.md).

The families are computed at scrape time by :class:`.services.metrics.LedgerCollector`
from the views and the log, so every worker of ``serve --workers N`` (and every host)
answers the same numbers. An admin token is needed (an admin token, or a token of an
agent the protocol declares ``admin = true``) unless ``serve --metrics-public``.
Not in the OpenAPI document: it is not JSON, and Prometheus finds it by convention.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from handoff_ledger.adapters.faces.http.routes import Svc
from handoff_ledger.adapters.services.metrics import LedgerCollector
from handoff_ledger.domain.errors import NotPermitted

__all__ = ["METRICS_PUBLIC_ENV", "router"]

METRICS_PUBLIC_ENV = "HANDOFF_METRICS_PUBLIC"
"""``serve --metrics-public`` tells its workers through this variable (``1``)."""

router = APIRouter(tags=["operations"])
_lock = threading.Lock()


@router.get("/metrics", include_in_schema=False)
def metrics(svc: Svc, request: Request) -> Response:
    """Every family, computed now."""
    if not getattr(request.app.state, "metrics_public", False):
        caller = svc.caller(request)
        if not (caller.admin or svc.ledger.is_admin(caller.agent)):
            raise NotPermitted(f"{caller.agent} cannot read /metrics: it needs an admin token")
    with _lock:  # one registry (and one incremental fold of the log) per app
        registry = getattr(request.app.state, "metrics_registry", None)
        if registry is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(LedgerCollector(svc.ledger, svc.views))
            request.app.state.metrics_registry = registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
