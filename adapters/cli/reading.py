"""Commands that read the ledger: show, log, inbox, overdue."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    AsOfOption,
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
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
from handoff_ledger.adapters.services.documents import log_entry
from handoff_ledger.adapters.services.human_times import human_time
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.queries import inbox_document, overdue_document, show_document
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.ids import read_id


@app.command()
def show(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One handoff: state, timers, full history (as it stood at --as-of)."""
    given = read_id(handoff_id)
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        hid = resolve_id(ledger, given)
        if as_json:
            emit_json(show_document(ledger, hid, moment))
            return
        handoff = ledger.get(hid, as_of=moment)
        history = ledger.history(hid, as_of=moment)
        if moment:
            typer.echo(f"AS OF: {human_time(moment)}")
        typer.echo(handoff_text(handoff, moment or ledger.clock.now()))
        typer.echo("HISTORY:")
        typer.echo(history_text(history))


@app.command()
def log(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="A log position (entries after it), a time, or a duration back (6h)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="A time, or a duration back (1h).")
    ] = None,
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
            head = ledger.head()
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
        document = inbox_document(fresh_views(ledger), agent, limit or None, moment)
        if as_json:
            emit_json(document)
        else:
            now = moment or ledger.clock.now()
            console().print(inbox_table(agent, document["handoffs"], now, document["total"]))


@app.command()
def overdue(
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Handoffs whose ack, update or deadline has passed."""
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        now = ledger.clock.now()
        document = overdue_document(fresh_views(ledger), now, moment)
        if as_json:
            emit_json(document)
        else:
            console().print(overdue_table(document["overdue"], moment or now))
