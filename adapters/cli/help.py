"""How ``handoff --help`` reads: commands grouped by what they are for, plain usage lines.

Typer 0.29 writes every flag's type (``--json <bool>``) and braces around a required
argument (``watch [OPTIONS] {ID}``); both read as noise to a newcomer, so a flag shows
no type and an argument's usage name is its metavar alone (``ID``, ``[NAME]``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

__all__ = ["PANELS", "group_commands", "installed_version", "plain_usage"]

PANELS: dict[str, tuple[str, ...]] = {
    "Lifecycle": (
        "send", "ack", "status", "complete", "fail", "decline", "cancel", "reassign",
        "reply", "note", "next", "work",
    ),
    "Reading": ("show", "inbox", "overdue", "log", "notifications", "watch", "digest", "agents"),
    "Forensics": ("trace", "gaps", "replay", "audit", "export"),
    "Running": ("init", "serve", "reactor", "mcp", "projections", "protocol", "demo"),
}  # fmt: skip
"""Each command's group in ``handoff --help``, in the order listed there."""


def group_commands(app: typer.Typer) -> None:
    """Put every registered command and sub-app in its panel, in ``PANELS`` order."""
    order = {name: i for i, name in enumerate(n for names in PANELS.values() for n in names)}
    panel_of = {name: panel for panel, names in PANELS.items() for name in names}
    infos: list[Any] = [*app.registered_commands, *app.registered_groups]
    for info in infos:
        info.rich_help_panel = panel_of.get(_name(info), "Running")
    app.registered_commands.sort(key=lambda c: order.get(_name(c), len(order)))
    app.registered_groups.sort(key=lambda g: order.get(_name(g), len(order)))


def _name(info: Any) -> str:
    return str(info.name or (info.callback.__name__ if info.callback else ""))


def installed_version() -> str:
    """The installed distribution's version (``handoff --version``)."""
    try:
        return version("handoff-ledger")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def plain_usage() -> None:
    """No type after a flag; ``ID`` rather than ``{ID}`` in usage lines."""

    def flag_type(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        return _option_type(self, ctx)

    def usage_name(self: TyperArgument) -> str:
        name = self.display_name_raw
        if not self.required and not name.startswith("["):
            name = f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    _option_type = TyperOption.display_type_rich
    TyperOption.display_type_rich = flag_type  # type: ignore[method-assign]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
