"""``POST /protocol/simulate``: the what-if of ``handoff protocol simulate``, for admins.

The body is the candidate protocol file's text and the window; the answer is the same
JSON document the CLI prints with ``--json``, streamed while the log is replayed.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from handoff_ledger.adapters.faces.http.boundary import ERRORS, no_nul, query_time
from handoff_ledger.adapters.faces.http.routes import Me, Svc
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.services.simulation_report import simulation_chunks
from handoff_ledger.domain.errors import InvalidInput, NotPermitted
from handoff_ledger.domain.protocol import Protocol

__all__ = ["SimulateBody", "router"]

router = APIRouter(responses=ERRORS, dependencies=[Depends(no_nul)], tags=["forensics"])


class SimulateBody(BaseModel):
    """The candidate protocol (a file's text, not applied) and the window to replay."""

    model_config = ConfigDict(extra="forbid")

    protocol: str = Field(max_length=1_000_000, description="The protocol file's TOML text.")
    since: str = Field(description="An ISO 8601 time, or a duration back from now (`6h`).")
    until: str | None = Field(default=None, description="Up to this time (default: now).")


@router.post(
    "/protocol/simulate",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}, "description": "SimulationDocument"}},
)
def simulate(body: SimulateBody, svc: Svc, me: Me) -> StreamingResponse:
    """What if this protocol had been in force (admins only; nothing is written)."""
    if not (me.admin or svc.ledger.is_admin(me.agent)):
        raise NotPermitted(f"protocol simulate: {me.agent} is not an admin")
    candidate = Protocol.parse(body.protocol, "protocol")
    now = svc.ledger.clock.now()
    since = query_time(body.since, "since", now)
    until = query_time(body.until, "until", now)
    if since is None:
        raise InvalidInput("since: required: an ISO 8601 time, or a duration back from now (6h)")
    if until is not None and until < since:
        raise InvalidInput("until: must not be before since")
    chunks = simulation_chunks(Simulation(svc.ledger, candidate, since, until))
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in chunks), media_type="application/json"
    )
