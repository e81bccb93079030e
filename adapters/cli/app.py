"""The Typer application the command modules register on, and how they print.

Its Click group, :class:`LazyGroup`, knows the commands by name from
:data:`~handoff_ledger.adapters.cli.commands.COMMANDS` and imports a command's modules
only when that command runs: ``handoff --help`` lists them all from the table, and
``handoff ack`` imports ``lifecycle`` alone (issue 25, item 4).
"""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_command_name, get_group_from_info

from handoff_ledger.adapters.cli.commands import COMMANDS
from handoff_ledger.adapters.cli.help import installed_version

__all__ = ["LazyGroup", "agents_app", "app", "emit_json", "projections_app", "protocol_app"]


class LazyGroup(TyperGroup):
    """The ``handoff`` group: every command of the table, a stand-in (name, panel and
    help line: all ``--help`` shows) until the command is resolved to run, when its
    modules are imported and the stand-in is replaced by the real command."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # What Typer built at start holds no command (no module is imported yet) and
        # empty sub-apps: stand-ins replace it all. Suggestions for a mistyped name
        # ("Did you mean 'ack'?") read these keys.
        self.commands = {
            name: TyperCommand(name=name, help=entry.help, rich_help_panel=entry.panel)
            for name, entry in COMMANDS.items()
        }

    def list_commands(self, ctx: Any) -> list[str]:
        """The table's order, which is ``handoff --help``'s."""
        return list(COMMANDS)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """The real command for ``args[0]``, its modules imported first."""
        if args and args[0] in COMMANDS:
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)


def load_command(name: str) -> Any:
    """Import the modules that register command ``name`` and build its Click command
    (a group for a sub-app) as Typer would have at start."""
    for module in COMMANDS[name].modules:
        importlib.import_module(f"handoff_ledger.adapters.cli.{module}")
    short, markup = app.pretty_exceptions_short, app.rich_markup_mode
    for command in app.registered_commands:
        if (
            command.callback
            and (command.name or get_command_name(command.callback.__name__)) == name
        ):
            return get_command_from_info(
                command, pretty_exceptions_short=short, rich_markup_mode=markup
            )
    for group in app.registered_groups:
        if group.name == name:
            return get_group_from_info(
                group,
                pretty_exceptions_short=short,
                rich_markup_mode=markup,
                suggest_commands=app.suggest_commands,
            )
    raise LookupError(f"no module of {COMMANDS[name].modules} registers the command {name!r}")


app = typer.Typer(
    cls=LazyGroup,
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
