"""``handoff next``: take the next handoff (acked in the same step), waiting for one; and
``handoff work --exec``: work them with a program, one after another."""

from __future__ import annotations

import shlex
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
from handoff_ledger.adapters.services.exec_worker import Outcome, run_taken
from handoff_ledger.adapters.services.work import (
    DEFAULT_WORKER,
    log_waker,
    next_document,
    wait_for_next,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.rules import require_agent_name, require_worker_name

__all__ = ["take", "work"]


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
        wake, close = log_waker(ledger) if waited else (None, lambda: None)
        try:
            taken = wait_for_next(
                ledger,
                lambda: _caught_up(views),
                agent=agent,
                worker=worker,
                wait=waited or timedelta(0),
                eta=read_duration(eta, "eta"),
                next_update=read_duration(next_update, "next_update"),
                poll=1.0 if wake else 0.1,
                wake=wake,
            )
        finally:
            close()
        if as_json:
            emit_json(None if taken is None else next_document(taken))
        elif taken is None:
            typer.echo(f"NOTHING: {agent} has no handoff to take")
        else:
            position = views.read.queue_position(str(taken.handoff.id))
            line = ack_text(taken.handoff, position, ledger.clock.now(), recorded=True)
            typer.echo(f"{line} TAKEN: {taken.how} by worker {worker}")


@app.command("work")
def work(
    agent: Annotated[str, typer.Option("--as", help="The agent whose handoffs to work.")],
    command: Annotated[
        str, typer.Option("--exec", help="The program to run per handoff (no shell).")
    ],
    worker: Annotated[
        str,
        typer.Option("--worker", help="This worker's id, the same across its restarts."),
    ] = DEFAULT_WORKER,
    eta: Annotated[str | None, typer.Option("--eta", help="ETA promised in each ack.")] = None,
    next_update: Annotated[
        str | None,
        typer.Option("--next-update", help="Update promised in each ack (default: 15m)."),
    ] = None,
    until_idle: Annotated[
        str | None,
        typer.Option("--until-idle", help="Stop after waiting this long with nothing to take."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Work AGENT's handoffs with a program: payload JSON on its stdin; exit 0 completes
    (stdout: the result), 3 declines, 4 fails (stderr: the reason), anything else (or
    the deadline) reports stuck. Runs until interrupted, or idle for --until-idle."""
    require_agent_name(agent, "as")
    require_worker_name(worker)
    argv = shlex.split(command)
    if not argv:
        raise InvalidInput("exec: names no program")
    idle = read_duration(until_idle, "until_idle")
    promised = read_duration(next_update, "next_update")
    promised_eta = read_duration(eta, "eta")
    with ledger_at(db) as ledger:
        views = Views(ledger)
        wake, close = log_waker(ledger)
        try:
            while True:
                taken = wait_for_next(
                    ledger,
                    lambda: _caught_up(views),
                    agent=agent,
                    worker=worker,
                    wait=idle or _IDLE_POLL,
                    eta=promised_eta,
                    next_update=promised,
                    poll=1.0 if wake else 0.1,
                    wake=wake,
                )
                if taken is None:
                    if idle is not None:
                        return
                    continue
                _say(run_taken(ledger, taken, argv, agent=agent), as_json)
        finally:
            close()


def _say(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        emit_json({"id": outcome.handoff_id, "outcome": outcome.outcome, "detail": outcome.detail})
    else:
        detail = f": {outcome.detail}" if outcome.detail else ""
        typer.echo(f"WORKED: {outcome.handoff_id} {outcome.outcome}{detail}")


_IDLE_POLL = timedelta(seconds=30)
"""Without --until-idle, how long one wait for work lasts before the next begins."""


def _caught_up(views: Views) -> Views:
    views.catch_up()
    return views
