"""For auditors: ``audit verify`` (the hash chains and the log's guard) and ``export``."""

from __future__ import annotations

from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_time,
)
from handoff_ledger.adapters.services.audit import audit_document, verify_ledger
from handoff_ledger.adapters.services.export import export_lines
from handoff_ledger.domain.ids import parse_id

__all__: list[str] = []

audit_app = typer.Typer(help="Check the log for tampering.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    handoff_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One handoff (default: all).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> int:
    """Check every handoff's hash chain; exit 1 naming each altered, removed or inserted event."""
    hid = parse_id(handoff_id) if handoff_id is not None else None
    with ledger_at(db) as ledger:
        report = verify_ledger(ledger, hid)
    if as_json:
        emit_json(audit_document(report))
    else:
        scope = f"handoff {report.scope}" if report.scope else "the ledger"
        typer.echo(
            f"AUDIT: {scope}: {report.handoffs} handoffs, {report.events} events"
            + (f" ({report.unsealed} recorded before hash chains)" if report.unsealed else "")
        )
        typer.echo(f"GUARD: {report.guard.table}: {report.guard.detail}")
        for problem in report.problems:
            typer.echo(f"{problem.problem.upper()}: {problem.message}")
        if report.ok:
            typer.echo("OK: every hash chain is intact.")
        else:
            typer.echo(f"FAILED: {len(report.problems)} problems found.", err=True)
    return 0 if report.ok else 1


@app.command()
def export(
    chain: Annotated[
        str | None, typer.Option("--chain", help="Only this chain (its id or any handoff's).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="An ISO 8601 time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="An ISO 8601 time.")] = None,
    db: DbOption = None,
) -> None:
    """The log as JSON lines for auditors: every event with its hash-chain link (docs/audit.md)."""
    chain_id = parse_id(chain, "chain") if chain is not None else None
    since_time, until_time = read_time(since, "since"), read_time(until, "until")
    with ledger_at(db) as ledger:
        for line in export_lines(fresh_views(ledger), chain_id, since_time, until_time):
            emit_json(line)
