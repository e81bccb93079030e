"""The forensics resources: broken chains, time travel, the audit and the export.

The same documents as ``handoff gaps``, ``replay``, ``audit verify`` and ``export``
(one JSON object per line, ``application/x-ndjson``). Any agent with a token may
read them: they show nothing the log itself does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from handoff_ledger.adapters.faces.http.boundary import ERRORS, no_nul, query_time
from handoff_ledger.adapters.faces.http.routes import Me, Svc, handoff_id
from handoff_ledger.adapters.services.audit import audit_document, verify_ledger
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.export import export_lines
from handoff_ledger.adapters.services.queries import replay_document
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(responses=ERRORS, dependencies=[Depends(no_nul)], tags=["forensics"])
Time = Annotated[
    str | None, Query(description="An ISO 8601 time, or a duration back from now (`6h`).")
]


@router.get("/gaps")
def gaps(svc: Svc, me: Me, since: Time = None) -> Reply:
    """Every broken chain: where each broke, whose move it was, since when."""
    return gaps_document(
        svc.fresh_views(),
        svc.ledger.clock.now(),
        query_time(since, "since", svc.ledger.clock.now()),
    )


@router.get("/replay")
def replay(
    svc: Svc,
    me: Me,
    until: Annotated[str, Query(description="An ISO 8601 time.")],
    view: Annotated[list[str] | None, Query(description="Only these views.")] = None,
) -> Reply:
    """Every view as it stood at ``until``, rebuilt in memory from the log."""
    moment = query_time(until, "until", svc.ledger.clock.now())
    if moment is None:
        raise InvalidInput("until: a time is required")
    return replay_document(svc.fresh_views(), moment, view or None)


@router.get("/audit")
def audit(svc: Svc, me: Me, id: Annotated[str | None, Query()] = None) -> Reply:
    """Every handoff's hash chain recomputed, and the log's guard: ``ok`` and each problem."""
    return audit_document(verify_ledger(svc.ledger, handoff_id(svc, id) if id else None))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON lines"}},
)
def export(
    svc: Svc,
    me: Me,
    chain: Annotated[str | None, Query(description="A chain id or any handoff's.")] = None,
    since: Time = None,
    until: Time = None,
) -> StreamingResponse:
    """The log as JSON lines for auditors (docs/audit.md describes every field)."""
    lines = export_lines(
        svc.fresh_views(),
        handoff_id(svc, chain) if chain else None,
        query_time(since, "since", svc.ledger.clock.now()),
        query_time(until, "until", svc.ledger.clock.now()),
    )
    return StreamingResponse(_ndjson(lines), media_type="application/x-ndjson")


def _ndjson(lines: Iterator[Reply]) -> Iterator[bytes]:
    for line in lines:
        yield (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
