"""The resources of the HTTP API: every CLI operation, with the CLI's JSON documents.

Route functions are plain ``def``: FastAPI runs them on its thread pool, where the
ledger's blocking database calls belong. Each one parses its inputs with the same
domain readers as the CLI, calls the same ``Ledger`` method, and returns the same
document the CLI prints with ``--json``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from handoff_ledger.adapters.faces.http.bodies import (
    AckBody,
    CompleteBody,
    FailBody,
    NoteBody,
    ReasonBody,
    ReassignBody,
    ReplyBody,
    SendBody,
    StatusBody,
)
from handoff_ledger.adapters.faces.http.boundary import ERRORS, in_range, no_nul
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.faces.runtime.sse import MAX_POSITION
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.documents import handoff_document, iso, log_entry
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.queries import (
    ack_document,
    chain_document,
    inbox_document,
    log_horizon,
    notifications_document,
    overdue_document,
    show_document,
    view_status_entry,
)
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.domain.durations import parse_deadline, parse_duration, parse_time
from handoff_ledger.domain.errors import InvalidInput, NotPermitted
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status

__all__ = ["router"]

router = APIRouter(responses=ERRORS, dependencies=[Depends(no_nul)])


def service(request: Request) -> Service:
    """The application's shared service."""
    found: Service = request.app.state.service
    return found


def caller(request: Request) -> Caller:
    """The agent the request acts as (from its bearer token)."""
    return service(request).caller(request)


Svc = Annotated[Service, Depends(service)]
Me = Annotated[Caller, Depends(caller)]
AsOf = Annotated[str | None, Query(description="Answer as the ledger stood at this ISO time.")]


def handoff_id(svc: Service, text: str) -> UUID:
    """A handoff id from the path: a UUID or a unique short id, else 404 (it names no
    handoff; an ambiguous short id is a 422 listing the handoffs it starts)."""
    return resolve_id(svc.ledger, text)


def duration(text: str | None, name: str) -> Any:
    return parse_duration(text, name=name) if text else None


# ------------------------------------------------------------------ commands


_DUPLICATE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The idempotency key was used before: that handoff, `duplicate: true`."}
}


@router.post("/handoffs", status_code=201, tags=["handoffs"], responses=_DUPLICATE)
def send(
    body: SendBody,
    svc: Svc,
    me: Me,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Reply:
    """Create a handoff from the caller; a repeated idempotency key returns the first."""
    if body.key is not None and idempotency_key is not None and body.key != idempotency_key:
        raise InvalidInput("key: differs from the Idempotency-Key header")
    outcome = svc.ledger.send(
        sender=me.agent,
        to=body.to,
        kind=body.kind,
        trigger=body.trigger,
        priority=Priority.parse(body.priority) if body.priority else None,
        payload=body.payload,
        ack_within=duration(body.ack_within, "ack_within"),
        deadline=in_range(parse_deadline(body.deadline), "deadline") if body.deadline else None,
        escalate_to=body.escalate_to or None,
        key=body.key if body.key is not None else idempotency_key,
        parent_id=_parent(svc, body.parent_id),
    )
    if outcome.duplicate:
        response.status_code = 200
    return {**handoff_document(outcome.handoff), "duplicate": outcome.duplicate}


def _parent(svc: Service, text: str | None) -> UUID | None:
    return None if text is None else resolve_id(svc.ledger, text, "parent_id", error=InvalidInput)


@router.post("/handoffs/{id}/ack", tags=["handoffs"])
def ack(id: str, svc: Svc, me: Me, body: Annotated[AckBody | None, Body()] = None) -> Reply:
    """Acknowledge (the receiver): queue position, ETA, next update due."""
    body = body or AckBody()
    outcome = svc.ledger.ack(
        handoff_id(svc, id),
        by=me.agent,
        eta=duration(body.eta, "eta"),
        next_update=duration(body.next_update, "next_update"),
    )
    # The view must include our Acked event (or, for a repeated ack, the first one).
    position = outcome.position or svc.ledger.head()
    return ack_document(outcome, svc.queues_at(position))


@router.post("/handoffs/{id}/status", tags=["handoffs"])
def status(id: str, body: StatusBody, svc: Svc, me: Me) -> Reply:
    """Report status (the receiver): working, progress, stuck, need_help."""
    handoff = svc.ledger.report_status(
        handoff_id(svc, id),
        by=me.agent,
        status=Status.parse(body.status),
        message=body.message,
        eta=duration(body.eta, "eta"),
        next_update=duration(body.next_update, "next_update"),
    )
    return handoff_document(handoff)


@router.post("/handoffs/{id}/complete", tags=["handoffs"])
def complete(
    id: str, svc: Svc, me: Me, body: Annotated[CompleteBody | None, Body()] = None
) -> Reply:
    """Complete (the receiver); follow-ups fire from the reactor."""
    result = body.result if body else None
    return handoff_document(svc.ledger.complete(handoff_id(svc, id), by=me.agent, result=result))


@router.post("/handoffs/{id}/fail", tags=["handoffs"])
def fail(id: str, body: FailBody, svc: Svc, me: Me) -> Reply:
    """Fail (the receiver): tried and could not finish; terminal, ``on_fail`` follow-ups fire."""
    handoff = svc.ledger.fail(
        handoff_id(svc, id), by=me.agent, reason=body.reason, result=body.result
    )
    return handoff_document(handoff)


@router.post("/handoffs/{id}/decline", tags=["handoffs"])
def decline(id: str, body: ReasonBody, svc: Svc, me: Me) -> Reply:
    """Decline (the receiver), saying why."""
    return handoff_document(
        svc.ledger.decline(handoff_id(svc, id), by=me.agent, reason=body.reason)
    )


@router.post("/handoffs/{id}/cancel", tags=["handoffs"])
def cancel(id: str, body: ReasonBody, svc: Svc, me: Me) -> Reply:
    """Cancel (the sender, or an admin)."""
    hid = handoff_id(svc, id)
    return handoff_document(svc.ledger.cancel(hid, by=me.agent, reason=body.reason, admin=me.admin))


@router.post("/handoffs/{id}/reassign", tags=["handoffs"])
def reassign(id: str, body: ReassignBody, svc: Svc, me: Me) -> Reply:
    """Move the work to another receiver (the sender, or an admin)."""
    hid = handoff_id(svc, id)
    handoff = svc.ledger.reassign(hid, by=me.agent, to=body.to, reason=body.reason, admin=me.admin)
    return handoff_document(handoff)


@router.post("/handoffs/{id}/reply", tags=["handoffs"])
def reply(id: str, body: ReplyBody, svc: Svc, me: Me) -> Reply:
    """Answer the receiver (the sender, an escalation target or an admin); a blocked
    handoff resumes."""
    handoff = svc.ledger.reply(
        handoff_id(svc, id), by=me.agent, message=body.message, data=body.data, admin=me.admin
    )
    return handoff_document(handoff)


@router.post("/handoffs/{id}/notes", status_code=201, tags=["handoffs"])
def note(id: str, body: NoteBody, svc: Svc, me: Me) -> Reply:
    """Add a note (anyone, any time)."""
    return handoff_document(
        svc.ledger.add_note(handoff_id(svc, id), by=me.agent, message=body.message)
    )


# ------------------------------------------------------------------ reads


@router.get("/handoffs/{id}", tags=["handoffs"])
def show(id: str, svc: Svc, me: Me, as_of: AsOf = None) -> Reply:
    """One handoff: state, timers, overdue timers, full history (as of a time)."""
    return show_document(svc.ledger, handoff_id(svc, id), _time(svc, as_of, "as_of"))


@router.get("/agents/{name}/inbox", tags=["agents"])
def inbox(
    name: str,
    svc: Svc,
    me: Me,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=0, le=10_000, description="0: the whole queue.")] = 100,
) -> Reply:
    """An agent's queue, head first, with queue positions."""
    return inbox_document(svc.fresh_views(), name, limit or None, _time(svc, as_of, "as_of"))


@router.get("/overdue", tags=["handoffs"])
def overdue(svc: Svc, me: Me, as_of: AsOf = None) -> Reply:
    """Every handoff whose ack, update or deadline has passed."""
    return overdue_document(svc.fresh_views(), svc.ledger.clock.now(), _time(svc, as_of, "as_of"))


@router.get("/chains/{id}", tags=["handoffs"])
def chain(id: str, svc: Svc, me: Me, as_of: AsOf = None) -> Reply:
    """The chain of a handoff (or the chain with that id), oldest first."""
    return chain_document(svc.fresh_views(), handoff_id(svc, id), _time(svc, as_of, "as_of"))


@router.get("/log", tags=["log"])
def read_log(
    svc: Svc,
    me: Me,
    since: Annotated[
        str | None, Query(description="A log position (entries after it) or an ISO time.")
    ] = None,
    until: Annotated[str | None, Query(description="An ISO 8601 time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Reply:
    """The handoff log, oldest first, a page at a time; ``next`` is the cursor to go on."""
    after, since_time = 0, None
    if since is not None:
        if since.strip().isascii() and since.strip().isdigit():
            after = int(since)
            if after > MAX_POSITION:
                raise InvalidInput(f"since: {since.strip()[:40]} is past any log position")
        else:
            since_time = _time(svc, since, "since")
    entries = list(
        svc.ledger.read_log(
            after=after, since=since_time, until=_time(svc, until, "until"), limit=limit
        )
    )
    cursor = entries[-1].position if entries else after
    return {"entries": [log_entry(e) for e in entries], "next": cursor}


@router.get("/agents/{name}/notifications", tags=["agents"])
def notifications(
    name: str,
    svc: Svc,
    me: Me,
    since: Annotated[int, Query(ge=0, le=MAX_POSITION, description="The cursor last seen.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Reply:
    """An agent's feed of broadcasts after a cursor (agents read their own; admins any)."""
    if name != me.agent and not (me.admin or svc.ledger.is_admin(me.agent)):
        raise NotPermitted(f"notifications: {me.agent} may read only its own feed, not {name}'s")
    return notifications_document(svc.fresh_views(), name, since, limit)


@router.get("/projections", tags=["operations"])
def projections(svc: Svc, me: Me) -> Reply:
    """Each view's position, the log's head, lag, version."""
    answer: dict[str, Any] = {"views": [view_status_entry(s) for s in svc.views.status()]}
    horizon = log_horizon(svc.ledger)
    if horizon is not None:
        answer["horizon"] = horizon
    return answer


@router.get("/healthz", tags=["operations"])
def healthz(svc: Svc) -> Reply:
    """Liveness and the store's reachability (no token needed)."""
    head = svc.ledger.head()
    answer: dict[str, Any] = {"ok": True, "head": head, "now": iso(svc.ledger.clock.now())}
    horizon = log_horizon(svc.ledger)
    if horizon is not None:
        answer["horizon"] = horizon
    return answer


def _time(svc: Service, text: str | None, name: str) -> Any:
    """An optional time: ISO 8601, or a duration back from now (``6h``)."""
    return in_range(parse_time(text, name=name, now=svc.ledger.clock.now()), name) if text else None
