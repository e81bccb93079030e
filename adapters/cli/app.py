"""The Typer application the command modules register on, and how they print."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from handoff_ledger.adapters.cli.help import installed_version

__all__ = ["agents_app", "app", "emit_json", "projections_app", "protocol_app"]

app = typer.Typer(
    name="handoff",
    help="A durable, auditable handoff ledger for teams of agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
protocol_app = typer.Typer(help="Load and inspect the protocol file.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")
agents_app = typer.Typer(help="The agents of the ledger.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")
projections_app = typer.Typer(help="The views: status, rebuild, run.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"handoff-ledger {installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """A durable, auditable handoff ledger for teams of agents."""


def emit_json(document: Any) -> None:
    """Print one JSON document on one line."""
    typer.echo(json.dumps(document, ensure_ascii=False, sort_keys=False))
