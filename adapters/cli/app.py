"""The Typer application the command modules register on, and how they print."""

from __future__ import annotations

import json
from typing import Any

import typer

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


def emit_json(document: Any) -> None:
    """Print one JSON document on one line."""
    typer.echo(json.dumps(document, ensure_ascii=False, sort_keys=False))
