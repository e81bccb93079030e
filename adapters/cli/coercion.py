"""Text and flags taken as given, without Pydantic.

Typer 0.29 checks every parameter's value with a Pydantic ``TypeAdapter``: any
``handoff`` command that takes a value imports pydantic (40 ms or more, most of what a
``handoff ack`` pays over the ledger's own code, issue 25 item 4) and builds an adapter
per parameter. Most of our parameters are text (``str``) or flags (``bool``), and a
``str`` given text or a ``bool`` given a bool is already its value (for a ``str``,
Typer's adapter decodes bytes and otherwise returns the text unchanged). Those skip
the adapter; any other value, and any other parameter (numbers, paths, choices, a
custom parser), goes through Typer's own coercion as before.

It reaches into Typer's private ``typer._coercion`` and ``typer.core.build_runtime_param``
(Typer >= 0.29). A Typer without them is used as it is: :func:`values_as_given` then
changes nothing (the commands pay for pydantic again, and ``test_cli_start`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typer import core

try:
    from typer._coercion import RuntimeParam, TypeDescriptor
except ImportError:  # a Typer whose coercion moved: keep its own
    RuntimeParam = TypeDescriptor = None  # type: ignore[assignment,misc]

__all__ = ["values_as_given"]

_typer_runtime_param: Any = getattr(core, "build_runtime_param", None)


@dataclass(frozen=True)
class _AsGiven(RuntimeParam):
    """A ``str`` or ``bool`` parameter: a value of that type is returned as it is."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is self.annotation:
            return value
        coerced = _typer_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
        return coerced


def _runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    info = descriptor.parameter_info
    plain = (
        descriptor.annotation in (str, bool)
        and info.parser is None
        and descriptor.file_annotation is None
        and not descriptor.is_path
        and not descriptor.is_choice
    )
    if plain:
        return _AsGiven(
            parameter_info=info, annotation=descriptor.annotation, descriptor=descriptor
        )
    typers: RuntimeParam = _typer_runtime_param(descriptor)
    return typers


def values_as_given() -> None:
    """Have Typer take ``str`` and ``bool`` values as given (once, at start)."""
    if RuntimeParam is None or _typer_runtime_param is None:
        return
    # typer.core calls the name it imported from typer._coercion: rebinding it there
    # is what changes the coercion of every parameter built afterwards.
    core.build_runtime_param = _runtime_param  # type: ignore[attr-defined]
