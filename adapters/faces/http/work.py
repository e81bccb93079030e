"""``GET /agents/{name}/next``: take the next handoff, waiting for one (a long poll).

The same order and answer as ``handoff next`` (``services/work.py``): the worker's own
unfinished handoff, the queue's head (acked in the same step), or work whose worker
missed its update promise; 204 when there was nothing to take within ``wait``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from handoff_ledger.adapters.faces.http.boundary import ERRORS, no_nul
from handoff_ledger.adapters.faces.http.routes import Me, Svc
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.adapters.services.work import DEFAULT_WORKER, next_document, wait_for_next
from handoff_ledger.domain.durations import parse_duration
from handoff_ledger.domain.errors import InvalidInput, NotPermitted
from handoff_ledger.domain.rules import require_worker_name

__all__ = ["MAX_WAIT", "router"]

router = APIRouter(responses=ERRORS, dependencies=[Depends(no_nul)], tags=["agents"])

MAX_WAIT = timedelta(seconds=60)
"""The longest a request waits for work (a proxy's idle timeout is often 60 s)."""

POLL = 0.01
"""How often a waiting request looks at the log's head (one indexed query)."""

_NOTHING: dict[int | str, dict[str, str]] = {204: {"description": "Nothing to take within `wait`."}}
_Duration = Annotated[str | None, Query(description="A duration: `30s`, `2m`, `PT30S`.")]


@router.get("/agents/{name}/next", response_model=Reply, responses=_NOTHING)
def take_next_handoff(
    name: str,
    svc: Svc,
    me: Me,
    wait: Annotated[
        str | None, Query(description="Wait up to this long for work (at most 60 s).")
    ] = None,
    worker: Annotated[
        str, Query(description="The worker's id, the same across its restarts.")
    ] = DEFAULT_WORKER,
    eta: _Duration = None,
    next_update: _Duration = None,
) -> Reply | Response:
    """Take the next handoff for the caller's agent and ack it (204: nothing to take)."""
    if name != me.agent:
        raise NotPermitted(f"next: {me.agent} may take only its own work, not {name}'s")
    require_worker_name(worker)
    waited = parse_duration(wait, name="wait") if wait else timedelta(0)
    if waited > MAX_WAIT:
        raise InvalidInput(f"wait: {wait!r} is longer than the longest wait (60s)")
    taken = wait_for_next(
        svc.ledger,
        svc.work_views,
        agent=name,
        worker=worker,
        wait=waited,
        eta=parse_duration(eta, name="eta") if eta else None,
        next_update=parse_duration(next_update, name="next_update") if next_update else None,
        poll=POLL,
        wake=svc.saves,
    )
    if taken is None:
        return Response(status_code=204)
    return next_document(taken)
