"""The MCP tools: what each one tells a model, and which ledger call it makes.

Every tool acts as the calling agent (fixed by ``handoff mcp --agent`` or by the
bearer token) and returns the JSON document the CLI prints with ``--json`` and the
HTTP API returns. The run functions are blocking (the ledger's database calls);
the server runs them on worker threads.
"""

from __future__ import annotations

from typing import Any

from handoff_ledger.adapters.faces.mcp.arguments import (
    DURATION,
    AckArgs,
    CompleteArgs,
    DeclineArgs,
    FailArgs,
    GetArgs,
    InboxArgs,
    LogArgs,
    NotificationsArgs,
    ReplyArgs,
    SendArgs,
    StatusArgs,
    TraceArgs,
)
from handoff_ledger.adapters.faces.mcp.more_tools import ON_ONE_HANDOFF, TAKING
from handoff_ledger.adapters.faces.mcp.spec import HANDOFF_DOC, REFUSED, Backend, ToolSpec
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.documents import handoff_document, log_entry
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.queries import (
    ack_document,
    chain_document,
    inbox_document,
    notifications_document,
    show_document,
)
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.domain.durations import parse_deadline, parse_duration, parse_time
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status

__all__ = ["TOOLS", "Backend", "ToolSpec"]


# ------------------------------------------------------------------ readers


def _duration(text: str | None, name: str) -> Any:
    return parse_duration(text, name=name) if text is not None else None


def _time(backend: Backend, text: str | None, name: str) -> Any:
    """An optional time: ISO 8601, or a duration back from now (``6h``)."""
    now = backend.ledger.clock.now()
    return parse_time(text, name=name, now=now) if text is not None else None


# ------------------------------------------------------------------ commands


def send(backend: Backend, me: Caller, args: SendArgs) -> Reply:
    outcome = backend.ledger.send(
        sender=me.agent,
        to=args.to,
        kind=args.kind,
        trigger=args.trigger,
        priority=Priority.parse(args.priority) if args.priority is not None else None,
        payload=args.payload,
        ack_within=_duration(args.ack_within, "ack_within"),
        deadline=parse_deadline(args.deadline) if args.deadline is not None else None,
        escalate_to=args.escalate_to or None,
        key=args.key,
        parent_id=resolve_id(backend.ledger, args.parent_id, "parent_id", error=InvalidInput)
        if args.parent_id is not None
        else None,
    )
    return {**handoff_document(outcome.handoff), "duplicate": outcome.duplicate}


def ack(backend: Backend, me: Caller, args: AckArgs) -> Reply:
    outcome = backend.ledger.ack(
        resolve_id(backend.ledger, args.id),
        by=me.agent,
        eta=_duration(args.eta, "eta"),
        next_update=_duration(args.next_update, "next_update"),
    )
    return ack_document(outcome, backend.fresh_views())


def report_status(backend: Backend, me: Caller, args: StatusArgs) -> Reply:
    handoff = backend.ledger.report_status(
        resolve_id(backend.ledger, args.id),
        by=me.agent,
        status=Status.parse(args.status),
        message=args.message,
        eta=_duration(args.eta, "eta"),
        next_update=_duration(args.next_update, "next_update"),
    )
    return handoff_document(handoff)


def complete(backend: Backend, me: Caller, args: CompleteArgs) -> Reply:
    handoff = backend.ledger.complete(
        resolve_id(backend.ledger, args.id), by=me.agent, result=args.result
    )
    return handoff_document(handoff)


def fail(backend: Backend, me: Caller, args: FailArgs) -> Reply:
    handoff = backend.ledger.fail(
        resolve_id(backend.ledger, args.id), by=me.agent, reason=args.reason, result=args.result
    )
    return handoff_document(handoff)


def reply(backend: Backend, me: Caller, args: ReplyArgs) -> Reply:
    handoff = backend.ledger.reply(
        resolve_id(backend.ledger, args.id),
        by=me.agent,
        message=args.message,
        data=args.data,
        admin=me.admin,
    )
    return handoff_document(handoff)


def decline(backend: Backend, me: Caller, args: DeclineArgs) -> Reply:
    handoff = backend.ledger.decline(
        resolve_id(backend.ledger, args.id), by=me.agent, reason=args.reason
    )
    return handoff_document(handoff)


# ------------------------------------------------------------------ reads


def my_inbox(backend: Backend, me: Caller, args: InboxArgs) -> Reply:
    return inbox_document(backend.fresh_views(), me.agent, args.limit or None, None)


def get_handoff(backend: Backend, me: Caller, args: GetArgs) -> Reply:
    return show_document(
        backend.ledger, resolve_id(backend.ledger, args.id), _time(backend, args.as_of, "as_of")
    )


def trace_chain(backend: Backend, me: Caller, args: TraceArgs) -> Reply:
    return chain_document(
        backend.fresh_views(),
        resolve_id(backend.ledger, args.id),
        _time(backend, args.as_of, "as_of"),
    )


def read_log(backend: Backend, me: Caller, args: LogArgs) -> Reply:
    after, since_time = 0, None
    if isinstance(args.since, int):
        if args.since < 0:
            raise InvalidInput(f"since: {args.since} is not a log position (0 or more)")
        after = args.since
    elif args.since is not None:
        if args.since.strip().isdigit():
            after = int(args.since)
        else:
            since_time = _time(backend, args.since, "since")
    until = _time(backend, args.until, "until")
    entries = list(
        backend.ledger.read_log(after=after, since=since_time, until=until, limit=args.limit)
    )
    cursor = entries[-1].position if entries else after
    shown = [log_entry(e) for e in entries]
    if not args.hashes:  # 130 characters an entry that a model reading the log never needs
        for entry in shown:
            entry.pop("prev_hash", None)  # type: ignore[typeddict-item]
            entry.pop("hash", None)  # type: ignore[typeddict-item]
    return {"entries": shown, "next": cursor}


def my_notifications(backend: Backend, me: Caller, args: NotificationsArgs) -> Reply:
    return notifications_document(backend.fresh_views(), me.agent, args.since, args.limit)


# ------------------------------------------------------------------ the list

_REFUSALS = (
    "Only the receiver may do this; on a handoff that is completed, failed, declined or "
    f"cancelled it is refused. {REFUSED}"
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="send_handoff",
        title="Send a handoff",
        description="Hand a unit of work to another agent, from you. Use it when something "
        "happened that another agent must act on (e.g. a bug report arrived and code_agent "
        "must fix it). Give the receiver (`to`) or a protocol `kind`, a one-line `trigger`, "
        "and a `payload` object with everything needed. Promise timers are durations: "
        f"`ack_within` and `deadline` take {DURATION}; `deadline` also takes an ISO 8601 "
        "time. Pass `key` (e.g. the email id) whenever you might send the same work twice: "
        "a repeated key returns the first handoff with `duplicate: true`. "
        f"{HANDOFF_DOC} Keep the `id` to follow the work.",
        arguments=SendArgs,
        run=send,
    ),
    *TAKING,
    ToolSpec(
        name="ack_handoff",
        title="Acknowledge a handoff",
        description="Acknowledge a handoff you received, at once, so the sender knows it "
        "is in your queue. Say when you expect to finish (`eta`) and when you will next "
        f"report (`next_update`), each as {DURATION}; you must call report_status before "
        "next_update falls due, or the handoff is escalated. Acking again is harmless: it "
        "returns the first ack (`already_acked: true`). Returns the handoff document plus "
        "`queue_position` (1 = next up), `eta` and `next_update_due`. " + _REFUSALS,
        arguments=AckArgs,
        run=ack,
        idempotent=True,
    ),
    ToolSpec(
        name="report_status",
        title="Report status on a handoff",
        description="Report progress on a handoff you received: `working` or `progress` "
        "while it moves, `stuck` or `need_help` when blocked (broadcast to the sender and "
        "to everyone watching the chain). Call it before your promised next update falls "
        "due, with a short `message`; optionally a new `eta` and `next_update` "
        f"({DURATION}). An un-acked handoff is acked first. {HANDOFF_DOC} " + _REFUSALS,
        arguments=StatusArgs,
        run=report_status,
    ),
    ToolSpec(
        name="complete_handoff",
        title="Complete a handoff",
        description="Mark a handoff you received as done, with its outcome in `result` (a "
        "JSON object). The protocol may then hand a follow-up to the next agent "
        f"automatically. {HANDOFF_DOC} " + _REFUSALS,
        arguments=CompleteArgs,
        run=complete,
    ),
    ToolSpec(
        name="decline_handoff",
        title="Decline a handoff",
        description="Refuse a handoff you received that you cannot or should not do, saying "
        "why in `reason`; the sender is told and the protocol may route it elsewhere. "
        f"{HANDOFF_DOC} " + _REFUSALS,
        arguments=DeclineArgs,
        run=decline,
    ),
    ToolSpec(
        name="fail_handoff",
        title="Fail a handoff",
        description="Give up on a handoff you received after trying: you worked on it and "
        "could not finish (a dead end, a missing dependency, an error you cannot fix). Say "
        "why in `reason` and put what the attempt left (findings, logs, partial output) in "
        "`result`; the sender is told and the protocol may route an `on_fail` follow-up. "
        "Use decline_handoff instead for work you will not take on at all; if you are only "
        "blocked and someone could unblock you, report_status `need_help` and wait for a "
        f"reply. The handoff is closed for good. {HANDOFF_DOC} " + _REFUSALS,
        arguments=FailArgs,
        run=fail,
    ),
    ToolSpec(
        name="reply_to_handoff",
        title="Reply to a handoff",
        description="Answer the receiver of an open handoff you sent, were escalated about, "
        "or administer: e.g. after it reported `stuck` or `need_help`, give the answer in "
        "`message` and anything it needs as a JSON object in `data`. A blocked handoff goes "
        "back to in_progress, and the receiver owes its next status update again. The "
        "receiver is told. Use it for an answer the receiver waits on, not for an informal "
        "remark that changes nothing (that is add_note). Only the handoff's sender, "
        "its escalation targets or an admin may reply (never its receiver), and only while "
        f"it is open. {HANDOFF_DOC} {REFUSED}",
        arguments=ReplyArgs,
        run=reply,
    ),
    *ON_ONE_HANDOFF,
    ToolSpec(
        name="my_inbox",
        title="My inbox",
        description="Your queue: the open handoffs sent to you (requested, acked, in "
        "progress or blocked), head first (highest priority, then oldest). Check it when "
        "you start and after each piece of work; ack new ones at once. Returns "
        '{"agent", "total", "handoffs": [...]} where each entry has id, sender, kind, '
        "priority, state, queue_position and timers (ack_due, update_due, deadline).",
        arguments=InboxArgs,
        run=my_inbox,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="get_handoff",
        title="Get one handoff",
        description="One handoff in full: its payload, state, timers, which promises are "
        "overdue, and its whole history (every event, who did it, when). Use it before "
        "working on a handoff to read its payload, or to see what happened to one you "
        "sent. Give `as_of` (ISO 8601) to see it as it stood at that time.",
        arguments=GetArgs,
        run=get_handoff,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="trace_chain",
        title="Trace a chain",
        description="The whole chain a handoff belongs to (the handoffs that followed from "
        "one another), oldest first, each with its sender, receiver, state and timers, and "
        "where the chain broke: each break names the handoff, its kind (never_acked, "
        "silent, deadline_missed, escalation_unanswered, follow_up_missing, not_rerouted), "
        "the agent whose move it is, the rule and the time. Use it to find where work "
        'stalled or was dropped. Returns {"chain_id", "handoffs": [...], "broken", '
        '"breaks": [...]}.',
        arguments=TraceArgs,
        run=trace_chain,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="read_log",
        title="Read the handoff log",
        description="The shared handoff log, oldest first: every event (Created, Acked, "
        "StatusReported, Escalated, Replied, Completed, Failed, Declined, Cancelled, "
        "Reassigned, NoteAdded) "
        "with its `position`, time (`at`), `handoff_id`, `chain_id`, who did it (`by`) and "
        'its fields. Returns {"entries": [...], "next": CURSOR}; pass `next` back as '
        "`since` to read the following page (an empty page means you are up to date). Pages "
        "hold 20 entries unless `limit` says otherwise; hashes are left out unless `hashes`.",
        arguments=LogArgs,
        run=read_log,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="my_notifications",
        title="My notifications",
        description="Your feed of broadcasts: every event caused by others on the chains "
        "you take part in (as sender or receiver), watch, or were notified about by an "
        "escalation: acks, status reports (stuck, need_help), replies, completions, "
        "failures, declines, escalations. Check it to learn what happened to work you handed off. "
        'Returns {"agent", "notifications": [...], "next": CURSOR}; pass `next` back as '
        "`since` to get only newer ones.",
        arguments=NotificationsArgs,
        run=my_notifications,
        read_only=True,
        idempotent=True,
    ),
)
