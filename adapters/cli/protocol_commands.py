"""``handoff protocol apply FILE`` and ``handoff protocol show``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import emit_json, protocol_app
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at, read_time
from handoff_ledger.adapters.cli.render import protocol_text
from handoff_ledger.adapters.services.documents import protocol_document
from handoff_ledger.adapters.services.simulate import Simulation
from handoff_ledger.adapters.services.simulation_report import (
    FIRST,
    simulation_chunks,
    simulation_lines,
)
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.protocol import Protocol


@protocol_app.command("apply")
def apply_protocol(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A protocol file (handoff.toml).")],
    by: Annotated[str, typer.Option("--as", help="Who applies it (kept in the log).")] = "admin",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a protocol file and load it into the ledger as a new version."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"file: cannot read {str(file)!r}: {reason}") from None
    Protocol.parse(text, str(file))  # refuse a bad file before opening the store
    with ledger_at(db, create=True) as ledger:
        current = ledger.apply_protocol(text, source=str(file), by=by)
        if as_json:
            emit_json(protocol_document(current))
        else:
            typer.echo(
                f"PROTOCOL: version {current.version} in force "
                f"({len(current.protocol.agents)} agents, {len(current.protocol.kinds)} kinds)"
            )


@protocol_app.command("show")
def show_protocol(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Print the protocol version in force."""
    with ledger_at(db) as ledger:
        current = ledger.protocol_in_force()
        if as_json:
            emit_json(protocol_document(current))
        else:
            typer.echo(protocol_text(current))


@protocol_app.command("simulate")
def simulate_protocol(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A candidate protocol file (not applied).")
    ],
    since: Annotated[
        str,
        typer.Option("--since", help="Replay from this time (ISO 8601, or a duration back)."),
    ],
    until: Annotated[
        str | None, typer.Option("--until", help="Replay up to this time (default: now).")
    ] = None,
    first: Annotated[
        int, typer.Option("--first", min=1, help="How many differences the text lists.")
    ] = FIRST,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """What if FILE had been in force: the log replayed in memory under it, and what
    would differ (escalations, reassignments, follow-ups, refusals). Nothing is written."""
    text = _read_protocol_file(file)
    candidate = Protocol.parse(text, str(file))
    start = read_time(since, "since")
    end = read_time(until, "until")
    assert start is not None  # Typer requires --since
    if end is not None and end < start:
        raise InvalidInput("until: must not be before --since")
    with ledger_at(db) as ledger:
        simulation = Simulation(ledger, candidate, start, end)
        if as_json:
            for chunk in simulation_chunks(simulation):
                sys.stdout.write(chunk)
            sys.stdout.flush()
        else:
            for line in simulation_lines(simulation, first):
                typer.echo(line)


def _read_protocol_file(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"file: cannot read {str(file)!r}: {reason}") from None
