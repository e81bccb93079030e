"""``handoff reactor``: escalate due timers and route follow-ups, once or until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Annotated
from uuid import UUID

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.reactor import PassReport, Reactor
from handoff_ledger.adapters.services.vocabulary import ReactorReport
from handoff_ledger.domain.handoff import Handoff


@app.command()
def reactor(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between passes.", min=0.01)
    ] = 1.0,
    views_here: Annotated[
        bool,
        typer.Option(
            "--views-here",
            help="Catch the views up in this process, not in a child process beside it "
            "(for a host with no core to spare).",
        ),
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fire due timers (escalations) and create protocol follow-ups."""
    stop = threading.Event()
    if not once:  # from the start: a SIGTERM while the store opens stops it cleanly too
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with ledger_at(db, create=True) as ledger:
        # A reactor that keeps running has its views caught up by a child process
        # while it fires steps (reactor_views.py); one pass is not worth its start.
        engine = Reactor(ledger, views_in_child=not (once or views_here))
        try:
            if once:
                report = engine.run_once()
                if as_json:
                    emit_json(report_document(report))
                else:
                    print_report(report, ledger)
                return
            typer.echo("reactor: running (Ctrl-C to stop)", err=True)
            on_pass = print_pass_document if as_json else print_failures
            engine.run_forever(stop, interval=interval, on_pass=on_pass)
        finally:
            engine.close()


def report_document(report: PassReport) -> ReactorReport:
    """``reactor --once --json``: what one pass did."""
    return {
        "escalated": [
            {
                "id": str(step.handoff_id),
                "reason": step.reason.value,
                "level": step.level,
                "repeat": step.repeat,
            }
            for step in report.steps
        ],
        "follow_ups": report.follow_ups,
        "skipped": report.skipped,
        "deliveries": [
            {
                "agent": a.agent,
                "cursor": a.position,
                "url": a.url,
                "attempt": a.attempts,
                "delivered": a.delivered,
                "error": a.error,
            }
            for a in report.deliveries
        ],
    }


def print_pass_document(report: PassReport) -> None:
    """``reactor --json`` running until stopped: each pass that did or met anything, as
    one JSON line the moment it ends (a supervisor or a test sees which reactor did
    what; failed deliveries are in the line, so stderr stays quiet)."""
    if report.steps or report.follow_ups or report.deliveries or report.skipped:
        emit_json(report_document(report))


def print_report(report: PassReport, ledger: Ledger) -> None:
    """``reactor --once``: one line per effect, then a summary line."""
    for step in report.steps:
        repeat = f" (repeat {step.repeat})" if step.repeat else ""
        typer.echo(f"ESCALATED: {step.handoff_id} {step.reason.value} level {step.level}{repeat}")
    for hid in report.follow_ups:
        typer.echo(f"FOLLOW_UP: {follow_up_route(ledger.get(UUID(hid)))}")
    for attempt in report.deliveries:
        if attempt.delivered:
            typer.echo(f"WEBHOOK: {attempt.agent} [{attempt.position}] delivered")
    print_failures(report)
    delivered = sum(1 for a in report.deliveries if a.delivered)
    typer.echo(
        f"REACTOR: {len(report.steps)} escalated, {len(report.follow_ups)} follow-ups, "
        f"{delivered}/{len(report.deliveries)} webhooks delivered, "
        f"{report.skipped} already handled"
    )


def follow_up_route(follow: Handoff) -> str:
    """``customer_reply code_agent → inbox_monitor (d4121a9a, parent 3e688442)``."""
    parent = f", parent {str(follow.parent_id)[:8]}" if follow.parent_id else ""
    return (
        f"{follow.kind or '-'} {follow.sender} → {follow.receiver} ({str(follow.id)[:8]}{parent})"
    )


def print_failures(report: PassReport) -> None:
    """Failed webhook deliveries, on stderr: each will be retried with backoff, but
    a refused one (not a public address) is never tried again."""
    for attempt in report.deliveries:
        if attempt.refused:
            typer.echo(
                f"WEBHOOK_REFUSED: {attempt.agent} [{attempt.position}]: {attempt.error} "
                "(not retried)",
                err=True,
            )
        elif not attempt.delivered:
            typer.echo(
                f"WEBHOOK_FAILED: {attempt.agent} [{attempt.position}] attempt "
                f"{attempt.attempts}: {attempt.error} (will retry)",
                err=True,
            )
