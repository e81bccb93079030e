"""Taking work (``wait_for_handoff``) and the sender's and anyone's moves on one handoff
(``cancel_handoff``, ``reassign_handoff``, ``add_note``): with the tools of ``tools.py``,
an agent can do over MCP whatever it can over HTTP.

``wait_for_handoff`` takes work as ``GET /agents/{name}/next`` does
(``services/work.py``), waiting at most :data:`MAX_WAIT` so a host's tool call returns.
It runs on one of the server's worker threads, like every tool: the wait blocks that
thread, never the event loop. With nothing to take it answers ``{"taken": null}``
(JSON ``null`` itself is no structured content), so a model branches on ``taken``
either way.
"""

from __future__ import annotations

from datetime import timedelta

from handoff_ledger.adapters.faces.mcp.arguments import (
    DURATION,
    CancelArgs,
    NoteArgs,
    ReassignArgs,
    WaitArgs,
)
from handoff_ledger.adapters.faces.mcp.spec import HANDOFF_DOC, REFUSED, Backend, ToolSpec
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.documents import handoff_document
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.adapters.services.work import next_document, wait_for_next
from handoff_ledger.domain.durations import parse_duration
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.rules import require_worker_name

__all__ = ["MAX_WAIT", "NOTHING", "ON_ONE_HANDOFF", "POLL", "TAKING"]

MAX_WAIT = timedelta(seconds=30)
"""The longest ``wait_for_handoff`` waits: hosts give up on a tool call after a while."""

POLL = 0.05
"""How often a waiting call looks at the log's head (one indexed query)."""

NOTHING: Reply = {"taken": None}
"""``wait_for_handoff``'s answer when there was nothing to take within ``wait``."""


def wait_for_handoff(backend: Backend, me: Caller, args: WaitArgs) -> Reply:
    require_worker_name(args.worker)
    waited = parse_duration(args.wait, name="wait") if args.wait else timedelta(0)
    if waited > MAX_WAIT:
        raise InvalidInput(f"wait: {args.wait!r} is longer than the longest wait (30s)")
    taken = wait_for_next(
        backend.ledger,
        backend.fresh_views,
        agent=me.agent,
        worker=args.worker,
        wait=waited,
        eta=parse_duration(args.eta, name="eta") if args.eta else None,
        next_update=parse_duration(args.next_update, name="next_update")
        if args.next_update
        else None,
        poll=POLL,
    )
    return NOTHING if taken is None else next_document(taken)


def cancel(backend: Backend, me: Caller, args: CancelArgs) -> Reply:
    handoff = backend.ledger.cancel(
        resolve_id(backend.ledger, args.id), by=me.agent, reason=args.reason, admin=me.admin
    )
    return handoff_document(handoff)


def reassign(backend: Backend, me: Caller, args: ReassignArgs) -> Reply:
    handoff = backend.ledger.reassign(
        resolve_id(backend.ledger, args.id),
        by=me.agent,
        to=args.to,
        reason=args.reason,
        admin=me.admin,
    )
    return handoff_document(handoff)


def add_note(backend: Backend, me: Caller, args: NoteArgs) -> Reply:
    handoff = backend.ledger.add_note(
        resolve_id(backend.ledger, args.id), by=me.agent, message=args.message
    )
    return handoff_document(handoff)


_SENDERS = (
    "Only the handoff's sender or an admin may do this, and only while it is open "
    f"(not completed, failed, declined or cancelled). {REFUSED}"
)

TAKING: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="wait_for_handoff",
        title="Take the next handoff",
        description="Take your next piece of work and acknowledge it in one step: use it "
        "instead of my_inbox + ack_handoff when you work your queue one handoff at a time. "
        "It returns, in this order: a handoff you took earlier and have not finished "
        '(`"taken": "resumed"`: carry on with it), else the head of your queue '
        '(`"taken": "taken"`), else a handoff another worker of yours stopped reporting on '
        '(`"taken": "taken_over"`). `wait` waits up to that long for work to arrive '
        f"({DURATION}, at most 30s); with nothing to take it returns "
        '{"taken": null}: call it again later. `eta` and `next_update` are the ack\'s '
        "promises; then report_status before next_update falls due and finish with "
        "complete_handoff, fail_handoff or decline_handoff. Returns the handoff document plus "
        f"`taken` and `worker`. {HANDOFF_DOC} {REFUSED}",
        arguments=WaitArgs,
        run=wait_for_handoff,
    ),
)

ON_ONE_HANDOFF: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="cancel_handoff",
        title="Cancel a handoff",
        description="Withdraw a handoff you sent that is no longer needed (the customer "
        "solved it, it was sent by mistake), saying why in `reason`. Its timers stop and its "
        "receiver is told; the handoff is closed for good. To have someone else do it "
        f"instead, use reassign_handoff. {HANDOFF_DOC} {_SENDERS}",
        arguments=CancelArgs,
        run=cancel,
    ),
    ToolSpec(
        name="reassign_handoff",
        title="Reassign a handoff",
        description="Move a handoff you sent to another receiver (`to`), saying why in "
        "`reason`: e.g. its receiver declined to be the right agent, or is stuck and "
        "another agent can do it. The new receiver must ack it afresh (its timers start "
        f"again); both are told. {HANDOFF_DOC} {_SENDERS}",
        arguments=ReassignArgs,
        run=reassign,
    ),
    ToolSpec(
        name="add_note",
        title="Add a note to a handoff",
        description="Add a remark to any handoff's history (`message`), open or closed, "
        "sent by you or not: context for whoever reads it later (e.g. `Customer called "
        "again`). A note changes nothing: no state, no timer, no obligation. To answer a "
        "receiver that is stuck or needs help, use reply_to_handoff instead. "
        f"{HANDOFF_DOC} {REFUSED}",
        arguments=NoteArgs,
        run=add_note,
    ),
)
