"""Commands that read the ledger: show, log, inbox, overdue."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    AsOfOption,
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_id,
    read_time,
)
from handoff_ledger.adapters.cli.render import (
    console,
    handoff_text,
    history_text,
    inbox_table,
    log_lines,
    overdue_table,
)
from handoff_ledger.adapters.documents import (
    handoff_document,
    history_entry,
    iso,
    log_entry,
    overdue_timers,
    view_document,
)
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.projections.base import from_us, us
from handoff_ledger.projections.queues import ordered_queue
from handoff_ledger.projections.timers import due_rows


@app.command()
def show(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One handoff: state, timers, full history (as it stood at --as-of)."""
    hid = read_id(handoff_id)
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        handoff = ledger.get(hid, as_of=moment)
        history = ledger.history(hid, as_of=moment)
        now = moment or ledger.clock.now()
        if as_json:
            emit_json(
                {
                    **handoff_document(handoff),
                    "as_of": iso(moment),
                    "overdue": overdue_timers(handoff, now),
                    "history": [history_entry(e) for e in history],
                }
            )
        else:
            if moment:
                typer.echo(f"AS OF: {iso(moment)}")
            typer.echo(handoff_text(handoff, now))
            typer.echo("HISTORY:")
            typer.echo(history_text(history))


@app.command()
def log(
    since: Annotated[
        str | None,
        typer.Option("--since", help="A log position (entries after it) or an ISO 8601 time."),
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="An ISO 8601 time.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep printing new entries until interrupted.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The handoff log, oldest first (with --json: one JSON object per line)."""
    after, since_time = 0, None
    if since is not None:
        if since.strip().isdigit():
            after = int(since)
        else:
            since_time = read_time(since, "since")
    until_time = read_time(until, "until")
    if follow and until_time is not None:
        raise InvalidInput("until: cannot be combined with --follow")
    with ledger_at(db) as ledger:
        while True:
            # Everything up to the head seen before this pass has been considered, so
            # the next pass (with --follow) starts after it instead of rescanning.
            head = ledger.recorder.max_notification_id() or 0
            for entry in ledger.read_log(after=after, since=since_time, until=until_time):
                if as_json:
                    emit_json(log_entry(entry))
                else:
                    typer.echo(next(iter(log_lines([entry]))))
                head = max(head, entry.position)
            if not follow:
                return
            after = max(after, head)
            time.sleep(0.5)


@app.command()
def inbox(
    agent: Annotated[str, typer.Argument(metavar="AGENT")],
    as_of: AsOfOption = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Show the first N of the queue (0: all).", min=0)
    ] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The agent's queue of open handoffs with queue positions (head first)."""
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        views = fresh_views(ledger)
        if moment is None:
            queue = views.read.inbox(agent, limit=limit or None)
            total = views.read.queue_length(agent) if limit and len(queue) == limit else len(queue)
            timers = views.read.timers_of([row["handoff_id"] for row in queue])
        else:
            memory = views.replay(moment, ["queues", "timers"])
            whole = ordered_queue(memory.rows("queue").values(), agent)
            total, queue = len(whole), whole[: limit or None]
            timers = list(memory.rows("timers").values())
        now = moment or ledger.clock.now()
        entries = [_with_timers(view_document(row), row["handoff_id"], timers) for row in queue]
        if as_json:
            emit_json({"agent": agent, "as_of": iso(moment), "total": total, "handoffs": entries})
        else:
            console().print(inbox_table(agent, entries, now, total))


@app.command()
def overdue(
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Handoffs whose ack, update or deadline has passed."""
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        views = fresh_views(ledger)
        now = moment or ledger.clock.now()
        if moment is None:
            rows = views.read.overdue(us(now) or 0)
        else:
            memory = views.replay(moment, ["timers"])
            rows = due_rows(memory.rows("timers").values(), us(now) or 0)
        entries = [view_document(row) for row in rows]
        if as_json:
            emit_json({"as_of": iso(now), "overdue": entries})
        else:
            console().print(overdue_table(entries, now))


def _with_timers(
    entry: dict[str, Any], handoff_id: str, timers: list[dict[str, Any]]
) -> dict[str, Any]:
    armed = {
        t["reason"]: iso(from_us(t["due_us"])) for t in timers if t["handoff_id"] == handoff_id
    }
    return {
        **entry,
        "timers": {
            "ack_due": armed.get("ack_timeout"),
            "update_due": armed.get("update_overdue"),
            "deadline": armed.get("deadline_missed"),
        },
    }
