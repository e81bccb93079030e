"""Options every command shares, and the readers that turn option text into values.

Readers raise :class:`InvalidInput` naming the option, so a bad value is reported
the same way (exit 2, nothing written) whichever command received it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import clock_from_env
from handoff_ledger.adapters.store.bootstrap import is_read_only, open_ledger
from handoff_ledger.adapters.store.errors import store_failure
from handoff_ledger.adapters.store.urls import parse_store_url
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.durations import parse_deadline, parse_duration, parse_time
from handoff_ledger.domain.errors import HandoffError, InvalidInput
from handoff_ledger.domain.rules import MAX_INPUT_BYTES, MAX_JSON_DEPTH

__all__ = [
    "MAX_INPUT_BYTES",
    "AsOfOption",
    "DbOption",
    "JsonOption",
    "fresh_views",
    "ledger_at",
    "read_deadline",
    "read_duration",
    "read_json_object",
    "read_time",
]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL: sqlite:///PATH or postgresql://USER@HOST/DB "
        "(default: $HANDOFF_DB, else sqlite:///handoff.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Answer as the ledger stood then: a time, or a duration back (2h)."
    ),
]


def fresh_views(ledger: Ledger) -> Views:
    """The ledger's views, caught up first: a user never reads behind their own write.

    A read-only store's views are read as they are: catching them up would write.
    """
    views = Views(ledger)
    if not is_read_only(ledger):
        views.catch_up()
    return views


@contextmanager
def ledger_at(db: str | None, *, create: bool = False) -> Iterator[Ledger]:
    """Open the ledger for one command and close its connections afterwards.

    Only writing commands pass ``create=True``: a read on a URL that holds no ledger
    is refused (``NoLedger``) and leaves nothing behind. A driver error that means
    the store is unavailable (locked past its bound, unreachable, full) becomes
    ``StoreUnavailable`` naming the store.
    """
    ledger = open_ledger(db, clock=clock_from_env(), create=create)
    try:
        yield ledger
    except Exception as error:
        unavailable = (
            None
            if isinstance(error, HandoffError)
            else store_failure(error, parse_store_url(db).redacted)
        )
        if unavailable is None:
            raise
        raise unavailable from None
    finally:
        ledger.close()


def read_duration(text: str | None, name: str) -> timedelta | None:
    """An optional duration option (``--eta 2h``)."""
    return None if text is None else parse_duration(text, name=name)


def read_deadline(text: str | None) -> timedelta | datetime | None:
    """``--deadline 4h`` (from now) or ``--deadline 2026-11-25T18:00:00Z``."""
    return None if text is None else parse_deadline(text, name="deadline")


def read_time(text: str | None, name: str) -> datetime | None:
    """An optional time option: ISO 8601, or a duration back from now (``--since 6h``)."""
    if text is None:
        return None
    return parse_time(text, name=name, now=clock_from_env().now())


def read_json_object(text: str | None, name: str) -> dict[str, Any] | None:
    """``--payload '{"a": 1}'``, ``--payload @file.json`` or ``@-`` (standard input):
    a JSON object of at most :data:`MAX_INPUT_BYTES`."""
    if text is None:
        return None
    source = text
    if text.startswith("@"):
        source = _read_limited(text[1:], name)
    if len(source) > MAX_INPUT_BYTES and len(source.encode("utf-8")) > MAX_INPUT_BYTES:
        raise InvalidInput(f"{name}: over the {MAX_INPUT_BYTES:,}-byte limit")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        where = f" in {text[1:]}" if text.startswith("@") else ""
        raise InvalidInput(
            f"{name}: not valid JSON{where}: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{name}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{name}: must be a JSON object, got {type(value).__name__}")
    return value


def _read_limited(where: str, name: str) -> str:
    """A file's text (``-``: standard input), refused past :data:`MAX_INPUT_BYTES`:
    ``@/dev/zero`` must not read forever."""
    shown = "standard input" if where == "-" else f"file {where!r}"
    try:
        if where == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with Path(where).open("rb") as file:
                data = file.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidInput(f"{name}: {shown} is over the {MAX_INPUT_BYTES:,}-byte limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: cannot read {shown}: not UTF-8 (byte {exc.start})") from None
