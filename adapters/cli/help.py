"""How ``handoff --help`` reads: plain usage lines (the commands' panels, grouped by what
they are for, are in :mod:`~handoff_ledger.adapters.cli.commands`).

Typer 0.29 writes every flag's type (``--json <bool>``) and braces around a required
argument (``watch [OPTIONS] {ID}``); both read as noise to a newcomer, so a flag shows
no type and an argument's usage name is its metavar alone (``ID``, ``[NAME]``).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

__all__ = ["installed_version", "plain_usage"]


def installed_version() -> str:
    """The installed distribution's version (``handoff --version``)."""
    # Imported here: importlib.metadata (and the email package it reads metadata
    # with) would cost every ``handoff`` process ~10 ms for a flag it rarely gets.
    from importlib.metadata import PackageNotFoundError, version

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
