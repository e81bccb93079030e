"""``handoff a2a-bridge``: deliver handoffs to remote A2A agents and follow their tasks."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at
from handoff_ledger.adapters.services.vocabulary import BridgeReport

if TYPE_CHECKING:  # the A2A client stack is imported only when the bridge runs
    from handoff_ledger.adapters.services.a2a_bridge import Bridge, BridgePass


@app.command("a2a-bridge")
def a2a_bridge(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes.", min=0.01)
    ] = 1.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deliver handoffs to the protocol's remote A2A agents (``a2a = URL``) and record
    what their tasks do as those agents' acks, statuses and outcomes."""
    from handoff_ledger.adapters.services.a2a_bridge import Bridge

    stop = threading.Event()
    if not once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with ledger_at(db, create=True) as ledger:
        asyncio.run(_run(Bridge(ledger), once=once, interval=interval, as_json=as_json, stop=stop))


async def _run(
    bridge: Bridge, *, once: bool, interval: float, as_json: bool, stop: threading.Event
) -> None:
    try:
        if once:
            report = await bridge.run_once()
            if as_json:
                emit_json(report_document(report))
            else:
                print_report(report)
            return
        typer.echo("a2a-bridge: running (Ctrl-C to stop)", err=True)
        await bridge.run_forever(stop, interval=interval, on_pass=print_errors)
    finally:
        await bridge.close()


def report_document(report: BridgePass) -> BridgeReport:
    """``a2a-bridge --once --json``: what one pass did."""
    return {
        "delivered": [
            {"id": hid, "agent": agent, "task_id": task} for hid, agent, task in report.delivered
        ],
        "recorded": [{"id": hid, "by": by, "move": move} for hid, by, move in report.recorded],
        "replies": [{"id": hid, "version": version} for hid, version in report.replies],
        "cancelled": report.cancelled,
        "errors": [{"about": about, "error": error} for about, error in report.errors],
    }


def print_report(report: BridgePass) -> None:
    """``a2a-bridge --once``: one line per effect, then a summary line."""
    for hid, agent, task in report.delivered:
        typer.echo(f"DELIVERED: {hid} to {agent} as task {task}")
    for hid, by, move in report.recorded:
        typer.echo(f"RECORDED: {hid} {move} by {by}")
    for hid, version in report.replies:
        typer.echo(f"REPLY: {hid} (version {version}) passed on")
    for hid in report.cancelled:
        typer.echo(f"CANCELLED: {hid} (remote task cancelled)")
    print_errors(report)
    typer.echo(
        f"A2A-BRIDGE: {len(report.delivered)} delivered, {len(report.recorded)} recorded, "
        f"{len(report.replies)} replies, {len(report.errors)} errors"
    )


def print_errors(report: BridgePass) -> None:
    """What failed, on stderr: an unreachable remote is tried again next pass."""
    for about, error in report.errors:
        typer.echo(f"A2A_BRIDGE_ERROR: {about}: {error}", err=True)
