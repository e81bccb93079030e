"""``handoff digest``: "while you were away", as JSON or as protocol-style lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_time,
)
from handoff_ledger.adapters.services.digest import PASSED_TYPES, build_digest, check_window
from handoff_ledger.adapters.services.documents import parse_iso
from handoff_ledger.adapters.services.human_times import human_time
from handoff_ledger.adapters.services.promises import kept_summary
from handoff_ledger.adapters.services.vocabulary import DigestDocument, PromiseAccuracy
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.rules import require_agent_name


@app.command()
def digest(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="Start of the window: a time, or a duration back (6h).",
            show_default=False,
        ),
    ],
    agent: Annotated[
        str | None, typer.Option("--for", help="Only what concerns this agent, and its queue.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End of the window (default: now).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """While you were away: what passed, what was escalated, what waits (on --for)."""
    start = read_time(since, "since")
    end = read_time(until, "until")
    if start is None:  # Typer requires --since; this keeps mypy and the reader honest
        raise InvalidInput("since: required")
    if end is not None:
        check_window(start, end, end)
    if agent is not None:
        require_agent_name(agent, "for")
    with ledger_at(db) as ledger:
        if agent is not None:
            ledger.require_declared(agent, "for")
        check_window(start, end, ledger.clock.now())
        document = build_digest(ledger, fresh_views(ledger), start, end, agent)
        admin = agent is not None and ledger.is_admin(agent)
    if as_json:
        emit_json(document)
    else:
        typer.echo("\n".join(digest_lines(document, admin)))


def digest_lines(document: DigestDocument, admin: bool = False) -> Iterator[str]:
    """The digest in plain words, each count with its noun; with ``--for``, under each
    handoff waiting on the agent, the command that settles it (``admin``: the agent is
    a protocol admin, so it may reassign or cancel any handoff, not only its own)."""
    window = document["window"]
    since = parse_iso(window["since"])
    assert since is not None

    def at(text: str | None) -> str:
        return _clock(text, since)

    who = document["for"] or "everyone"
    yield f"DIGEST: {who}, {human_time(window['since'])} → {at(window['until'])}"
    passed = document["passed"]
    yield f"WHAT HAPPENED: {_count(len(passed), 'event')}"
    for e in passed:
        route = f"{e['sender']}/{e['id'][:8]} → {e['receiver']}"
        if e["type"] == "Reassigned":
            route = f"{e['sender']}/{e['id'][:8]} {e['from_receiver']} → {e['receiver']}"
        why = f" ({e['reason']})" if e["reason"] else ""
        follow = " follow-up" if e["type"] == "Created" and e["parent_id"] else ""
        yield (
            f"  [{at(e['at'])}] {e['type'].upper()} {route} {e['kind'] or '-'}{follow}"
            f" by {e['by']}{why}, now {e['state']}"
        )
    escalated = document["escalated"]
    yield f"ESCALATED: {_count(len(escalated), 'time')}"
    for esc in escalated:
        kept, still = _PROMISE.get(esc["reason"], _PROMISE["deadline_missed"])
        outcome = f"{kept} at {at(esc['kept_at'])}" if esc["kept_at"] else still
        yield (
            f"  [{at(esc['at'])}] {esc['reason']} level {esc['level']}"
            f" on {esc['sender']}/{esc['id'][:8]}"
            f" → {esc['receiver']}, notified {', '.join(esc['notified']) or '-'};"
            f" {outcome}, handoff now {esc['state']}"
        )
    yield from _waiting_lines(document["waiting"], document["for"], at, admin)
    yield from promise_lines(document["promises"])
    counts = document["counts"]
    # Failures and replies (issue 16) are named only when there were some: the line
    # reads as it always did for teams that use neither.
    parts = [
        f"{counts[name]} {name}"
        for name in PASSED_TYPES.values()
        if counts[name] or name not in ("failed", "replied")
    ]
    parts.append(f"{counts['escalated']} escalated")
    follow_ups = counts["follow_ups"]
    parts.append(f"{follow_ups} follow-up{'' if follow_ups == 1 else 's'}")
    yield f"SUMMARY: {', '.join(parts)}"


def promise_lines(entries: list[PromiseAccuracy]) -> Iterator[str]:
    """``code_agent kept 62% of its ETAs (5 of 8) and 90% of its update promises (9 of
    10)``, per agent, over every kind; nothing when no promise settled in the window."""
    summary = kept_summary(entries)
    if not summary:
        return
    yield "PROMISES (settled in the window):"
    names = {"eta": "ETAs", "update": "update promises"}
    for agent, by_promise in summary.items():
        parts = [
            f"{s['kept_pct']:g}% of its {names[promise]} ({s['kept']} of {s['counted']})"
            for promise, s in by_promise.items()
        ]
        yield f"  {agent} kept {' and '.join(parts)}"


_PROMISE = {
    "ack_timeout": ("acked", "still not acked"),
    "update_overdue": ("heard from", "still no update"),
    "deadline_missed": ("completed", "still not completed"),
}
"""Per escalation reason: what keeping the promise is called, and what not keeping it
is (any other reason, ``manual`` included, is about the completion)."""


def _count(n: int, noun: str) -> str:
    """``7 events``, ``1 event``, ``nothing``."""
    return "nothing" if n == 0 else f"{n} {noun}{'' if n == 1 else 's'}"


def _waiting_lines(
    waiting: dict[str, Any], agent: str | None, at: Any, admin: bool
) -> Iterator[str]:
    if agent is None:
        overdue = waiting["overdue"]
        yield f"OVERDUE AT {at(waiting['as_of'])}: {_count(len(overdue), 'timer')}"
        for row in overdue:
            escalated = f"level {row['escalated_level']}" if row["escalated_level"] else "no"
            yield (
                f"  {row['sender']}/{row['id'][:8]} → {row['receiver']} {row['kind'] or '-'}: "
                f"{row['reason']} due {at(row['due'])}, escalated {escalated}"
            )
        opened = waiting["open_by_receiver"]
        yield "OPEN: " + (", ".join(f"{name} {n}" for name, n in opened.items()) or "nothing")
        return
    queue, mine = waiting["queue"], waiting["escalated_to"]
    yield f"WAITING ON YOU: {_count(len(queue) + len(mine), 'handoff')}"
    for row in queue:
        yield (
            f"  QUEUE #{row['queue_position']} {row['sender']}/{row['id'][:8]} "
            f"{row['kind'] or '-'} {row['priority']} [{row['state']}] since {at(row['created_at'])}"
        )
        yield f"    → {queue_command(row, agent)}"
    for row in mine:
        yield (
            f"  ESCALATED TO YOU: {row['sender']}/{row['id'][:8]} → {row['receiver']} "
            f"{row['kind'] or '-'} [{row['state']}] {row['last_reason']} level "
            f"{row['last_level']} at {at(row['last_escalated_at'])}"
        )
        yield f"    → {escalation_command(row, agent, admin)}"


def queue_command(row: dict[str, Any], agent: str) -> str:
    """The command that takes a handoff in ``agent``'s queue off it (with what it is for)."""
    hid = row["id"][:8]
    if row["state"] == "requested":
        return f"handoff ack {hid} --as {agent}   (then complete, decline or fail it)"
    return f"handoff complete {hid} --as {agent} --result JSON   (or decline or fail it)"


def escalation_command(row: dict[str, Any], agent: str, admin: bool) -> str:
    """The command that answers an escalation to ``agent`` (with what it is for): the
    handoff leaves "waiting on you" once it is run (build_digest's rule).

    Never acked, or past its deadline: the sender or an admin hands it to someone else
    (``cancel`` withdraws it instead); anything else, or anyone else: a reply to the
    receiver, which re-arms its update timer.
    """
    hid, receiver = row["id"][:8], row["receiver"]
    may_move = admin or row["sender"] == agent
    if may_move and row["state"] == "requested":
        why = f"{receiver} never acked it; or cancel it"
    elif may_move and row["last_reason"] == "deadline_missed":
        why = f"{receiver} missed its deadline; or cancel it"
    else:
        asked = {"ack_timeout": "to ack it", "update_overdue": "for the update it owes"}
        why = f"asks {receiver} {asked.get(row['last_reason'], 'where it stands')}"
        return f"handoff reply {hid} --as {agent} --message TEXT   ({why})"
    return f"handoff reassign {hid} --as {agent} --to AGENT --reason TEXT   ({why})"


def _clock(text: str | None, since: datetime) -> str:
    """A time of the window's first day as ``HH:MM:SSZ``; any other as a full time."""
    moment = parse_iso(text)
    if moment is None:
        return "-"
    full = human_time(moment)
    return full.split("T", 1)[1] if moment.date() == since.date() else full
