"""``handoff reactor``: escalate due timers and route follow-ups, once or until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at
from handoff_ledger.adapters.reactor import Reactor


@app.command()
def reactor(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes.", min=0.01)
    ] = 1.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fire due timers (escalations) and create protocol follow-ups."""
    with ledger_at(db) as ledger:
        engine = Reactor(ledger)
        if once:
            report = engine.run_once()
            if as_json:
                emit_json(
                    {
                        "escalated": [
                            {"id": hid, "reason": reason} for hid, reason in report.escalated
                        ],
                        "follow_ups": report.follow_ups,
                        "skipped": report.skipped,
                    }
                )
            else:
                for hid, reason in report.escalated:
                    typer.echo(f"ESCALATED: {hid} {reason}")
                for hid in report.follow_ups:
                    typer.echo(f"FOLLOW_UP: {hid}")
                typer.echo(
                    f"REACTOR: {len(report.escalated)} escalated, "
                    f"{len(report.follow_ups)} follow-ups, {report.skipped} already handled"
                )
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo("reactor: running (Ctrl-C to stop)", err=True)
        engine.run_forever(stop, interval=interval)
