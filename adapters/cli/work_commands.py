"""``handoff next``: take the next handoff (and ack it in the same step), waiting for one."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    ledger_at,
    read_duration,
)
from handoff_ledger.adapters.cli.render import ack_text
from handoff_ledger.adapters.services.documents import handoff_document
from handoff_ledger.adapters.services.vocabulary import NextDocument
from handoff_ledger.adapters.services.work import DEFAULT_WORKER, Taken, wait_for_next
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.rules import require_agent_name, require_worker_name

__all__ = ["next_document", "take"]


def next_document(taken: Taken) -> NextDocument:
    """A taken handoff as ``next --json`` prints it: the handoff, how, by which worker."""
    handoff = taken.handoff
    return {**handoff_document(handoff), "taken": taken.how, "worker": handoff.worker or ""}


@app.command("next")
def take(
    agent: Annotated[str, typer.Option("--as", help="The agent taking work.")],
    wait: Annotated[
        str | None, typer.Option("--wait", help="Wait up to this long for work, e.g. 30s.")
    ] = None,
    eta: Annotated[str | None, typer.Option("--eta", help="ETA promised in the ack.")] = None,
    next_update: Annotated[
        str | None,
        typer.Option("--next-update", help="Update promised in the ack (default: 15m)."),
    ] = None,
    worker: Annotated[
        str,
        typer.Option("--worker", help="This worker's id, the same across its restarts."),
    ] = DEFAULT_WORKER,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take the next handoff for AGENT and ack it: your own unfinished one first, then the
    head of the queue, then one whose worker missed its update. Nothing: JSON null."""
    require_agent_name(agent, "as")
    require_worker_name(worker)
    waited = read_duration(wait, "wait")
    with ledger_at(db) as ledger:
        views = Views(ledger)
        taken = wait_for_next(
            ledger,
            views,
            agent=agent,
            worker=worker,
            wait=waited or timedelta(0),
            eta=read_duration(eta, "eta"),
            next_update=read_duration(next_update, "next_update"),
        )
        if as_json:
            emit_json(None if taken is None else next_document(taken))
        elif taken is None:
            typer.echo(f"NOTHING: {agent} has no handoff to take")
        else:
            position = views.read.queue_position(str(taken.handoff.id))
            line = ack_text(taken.handoff, position, ledger.clock.now(), recorded=True)
            typer.echo(f"{line} TAKEN: {taken.how} by worker {worker}")
