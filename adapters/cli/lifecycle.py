"""Commands that change a handoff: send, ack, status, complete, fail, decline, cancel, reassign,
reply, note."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_deadline,
    read_duration,
    read_json_object,
)
from handoff_ledger.adapters.cli.render import ack_text, handoff_text, ref
from handoff_ledger.adapters.ledger.application import AckOutcome, Ledger
from handoff_ledger.adapters.services.documents import handoff_document
from handoff_ledger.adapters.services.human_times import human_time
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.promises import SUGGEST_FROM, suggested_eta
from handoff_ledger.adapters.services.queries import ack_document
from handoff_ledger.adapters.services.vocabulary import CliAckDocument, Reply
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.ids import read_id
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.states import Status

T = TypeVar("T")

AsAgent = Annotated[str, typer.Option("--as", help="The agent acting.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the log).")]
Eta = Annotated[str | None, typer.Option("--eta", help="When the work will be done, e.g. 2h.")]
NextUpdate = Annotated[
    str | None, typer.Option("--next-update", help="When the next status report comes, e.g. 30m.")
]


@app.command()
def send(
    sender: Annotated[
        str, typer.Option("--as", "--from", help="The sending agent (--from: the same).")
    ],
    to: Annotated[str | None, typer.Option("--to", help="The receiving agent.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="A kind from the protocol.")] = None,
    trigger: Annotated[str | None, typer.Option("--trigger", help="What happened.")] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help="low, medium, high or critical.")
    ] = None,
    payload: Annotated[
        str | None, typer.Option("--payload", help="A JSON object, or @file.json.")
    ] = None,
    ack_within: Annotated[
        str | None, typer.Option("--ack-within", help="Escalate if not acked within, e.g. 1h.")
    ] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="A duration (4h) or an ISO 8601 time.")
    ] = None,
    escalate_to: Annotated[
        list[str] | None, typer.Option("--escalate-to", help="Whom to notify (repeatable).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a repeat returns the first.")
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="The handoff this one follows from.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a handoff; prints its id, chain_id and state."""
    parsed_payload = read_json_object(payload, "payload")
    parsed_priority = Priority.parse(priority) if priority else None
    parsed_ack_within = read_duration(ack_within, "ack_within")
    parsed_deadline = read_deadline(deadline)
    parent_id = read_id(parent, "parent", error=InvalidInput) if parent else None
    with ledger_at(db, create=True) as ledger:
        if parent_id is not None:
            parent_id = resolve_id(ledger, parent_id, "parent", error=InvalidInput)
        outcome = ledger.send(
            sender=sender,
            to=to,
            kind=kind,
            trigger=trigger,
            priority=parsed_priority,
            payload=parsed_payload,
            ack_within=parsed_ack_within,
            deadline=parsed_deadline,
            escalate_to=escalate_to or None,
            key=key,
            parent_id=parent_id,
        )
        if as_json:
            emit_json({**handoff_document(outcome.handoff), "duplicate": outcome.duplicate})
        else:
            typer.echo(
                handoff_text(outcome.handoff, ledger.clock.now(), duplicate=outcome.duplicate)
            )


@app.command()
def ack(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    eta: Eta = None,
    next_update: NextUpdate = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge a handoff; prints queue_position, eta and next_update_due.

    Without --eta, an ETA is suggested (never set) from the agent's last completed
    handoffs of the kind: the median time from its ack to completion.
    """
    hid = read_id(handoff_id)
    eta_delta = read_duration(eta, "eta")
    update_delta = read_duration(next_update, "next_update")

    def document(ledger: Ledger, outcome: AckOutcome) -> CliAckDocument:
        views = fresh_views(ledger)
        handoff: Handoff = outcome.handoff
        suggested = None
        if eta_delta is None and outcome.recorded and handoff.eta is None:
            took = views.read.completion_times(agent, handoff.kind, SUGGEST_FROM)
            suggested = suggested_eta(took, handoff.kind)
        return {**ack_document(outcome, views), "suggested_eta": suggested}

    def text(ledger: Ledger, outcome: AckOutcome, answer: Reply) -> str:
        line = ack_text(
            outcome.handoff, answer["queue_position"], ledger.clock.now(), recorded=outcome.recorded
        )
        suggested = answer["suggested_eta"]
        if suggested is None:
            return line
        kind = f"{suggested['kind']} handoffs" if suggested["kind"] else "handoffs without a kind"
        return (
            f"{line}\nSUGGESTED_ETA: {suggested['eta']}, the median time to complete of your last"
            f" {suggested['from_handoffs']} {kind}; not promised: promise it with"
            f" handoff status {str(outcome.handoff.id)[:8]} --as {agent} --status working"
            f" --eta {suggested['eta']}"
        )

    _answer(
        db,
        as_json,
        lambda ledger: ledger.ack(
            resolve_id(ledger, hid), by=agent, eta=eta_delta, next_update=update_delta
        ),
        document,
        text,
    )


@app.command()
def status(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    report: Annotated[str, typer.Option("--status", help="working, progress, stuck or need_help.")],
    message: Annotated[str | None, typer.Option("--message", help="What to tell.")] = None,
    eta: Eta = None,
    next_update: NextUpdate = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report status on a handoff (working, progress, stuck, need_help)."""
    hid = read_id(handoff_id)
    parsed = Status.parse(report)
    eta_delta = read_duration(eta, "eta")
    update_delta = read_duration(next_update, "next_update")
    said = f' "{message}"' if message else ""
    _changed(
        db,
        as_json,
        lambda ledger: ledger.report_status(
            resolve_id(ledger, hid),
            by=agent,
            status=parsed,
            message=message,
            eta=eta_delta,
            next_update=update_delta,
        ),
        lambda handoff: (
            f"STATUS: {agent} on {ref(handoff)}: {parsed.value}{said} "
            f"STATE: {handoff.state.value} "
            f"NEXT_UPDATE: {human_time(handoff.update_due, 'none promised')}"
        ),
    )


@app.command()
def complete(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    result: Annotated[
        str | None, typer.Option("--result", help="A JSON object, or @file.json.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Complete a handoff (the result is checked against the kind's result schema)."""
    hid = read_id(handoff_id)
    parsed = read_json_object(result, "result")
    result_text = json.dumps(parsed or {}, ensure_ascii=False)
    _changed(
        db,
        as_json,
        lambda ledger: ledger.complete(resolve_id(ledger, hid), by=agent, result=parsed),
        lambda handoff: f"HANDOFF_COMPLETE: {agent} completed {ref(handoff)} RESULT: {result_text}",
    )


@app.command()
def fail(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    reason: Reason,
    result: Annotated[
        str | None,
        typer.Option("--result", help="What the attempt left: a JSON object, or @file.json."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give up on a handoff after trying (the receiver), saying why; terminal.

    ``decline`` refuses work not started; ``fail`` reports work tried that could not
    be finished. The protocol's ``on_fail`` follow-up, if any, fires from the reactor.
    """
    hid = read_id(handoff_id)
    parsed = read_json_object(result, "result")
    shown = f" RESULT: {json.dumps(parsed, ensure_ascii=False)}" if parsed is not None else ""
    _changed(
        db,
        as_json,
        lambda ledger: ledger.fail(resolve_id(ledger, hid), by=agent, reason=reason, result=parsed),
        lambda handoff: (
            f"HANDOFF_FAILED: {agent} could not finish {ref(handoff)} REASON: {reason}{shown}"
        ),
    )


@app.command()
def decline(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    reason: Reason,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decline a handoff (the receiver), saying why."""
    hid = read_id(handoff_id)
    _changed(
        db,
        as_json,
        lambda ledger: ledger.decline(resolve_id(ledger, hid), by=agent, reason=reason),
        lambda handoff: f"HANDOFF_DECLINED: {agent} declined {ref(handoff)} REASON: {reason}",
    )


@app.command()
def cancel(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    reason: Reason,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a handoff (its sender, or an admin)."""
    hid = read_id(handoff_id)
    _changed(
        db,
        as_json,
        lambda ledger: ledger.cancel(resolve_id(ledger, hid), by=agent, reason=reason),
        lambda handoff: f"HANDOFF_CANCELLED: {agent} cancelled {ref(handoff)} REASON: {reason}",
    )


@app.command()
def reassign(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    to: Annotated[str, typer.Option("--to", help="The new receiver.")],
    agent: AsAgent,
    reason: Reason,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reassign a handoff to another receiver (its sender, or an admin)."""
    hid = read_id(handoff_id)
    _changed(
        db,
        as_json,
        lambda ledger: ledger.reassign(resolve_id(ledger, hid), by=agent, to=to, reason=reason),
        lambda handoff: (
            f"HANDOFF_REASSIGNED: {ref(handoff)} → {handoff.receiver} by {agent} "
            f"REASON: {reason} ACK_DUE: {human_time(handoff.ack_due, 'none')}"
        ),
    )


@app.command()
def reply(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    message: Annotated[str, typer.Option("--message", help="The answer to the receiver.")],
    data: Annotated[
        str | None, typer.Option("--data", help="A JSON object, or @file.json (@- stdin).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer the receiver of an open handoff (its sender, an escalation target or an admin).

    A blocked handoff goes back to in_progress and the receiver's update timer re-arms;
    a note, by contrast, asks nothing of anyone. Admins are the protocol's (``admin = true``).
    """
    hid = read_id(handoff_id)
    parsed = read_json_object(data, "data")
    shown = f" DATA: {json.dumps(parsed, ensure_ascii=False)}" if parsed is not None else ""
    _changed(
        db,
        as_json,
        lambda ledger: ledger.reply(
            resolve_id(ledger, hid), by=agent, message=message, data=parsed
        ),
        lambda handoff: (
            f"REPLY: {agent} → {handoff.receiver} on {ref(handoff)}: {message}{shown} "
            f"STATE: {handoff.state.value} "
            f"NEXT_UPDATE: {human_time(handoff.update_due, 'none promised')}"
        ),
    )


@app.command()
def note(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    message: Annotated[str, typer.Option("--message", help="The note.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a note to a handoff (anyone, any time: logged, no obligations)."""
    hid = read_id(handoff_id)
    _changed(
        db,
        as_json,
        lambda ledger: ledger.add_note(resolve_id(ledger, hid), by=agent, message=message),
        lambda handoff: f"NOTE: {agent} on {ref(handoff)}: {message}",
    )


def _answer(
    db: str | None,
    as_json: bool,
    act: Callable[[Ledger], T],
    document: Callable[[Ledger, T], Reply],
    text: Callable[[Ledger, T, Reply], str],
) -> None:
    """The one path of every lifecycle command: act on the ledger, then print the
    outcome's document (``--json``) or its protocol-style line."""
    with ledger_at(db, create=True) as ledger:
        outcome = act(ledger)
        answer = document(ledger, outcome)
        if as_json:
            emit_json(answer)
        else:
            typer.echo(text(ledger, outcome, answer))


def _changed(
    db: str | None, as_json: bool, act: Callable[[Ledger], Handoff], line: Callable[[Handoff], str]
) -> None:
    """A command whose answer is the changed handoff's document."""
    _answer(
        db,
        as_json,
        act,
        lambda _ledger, handoff: handoff_document(handoff),
        lambda _ledger, handoff, _document: line(handoff),
    )
