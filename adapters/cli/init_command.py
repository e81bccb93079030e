"""``handoff init``: create a store, the one way besides a write (reads never do)."""

from __future__ import annotations

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at
from handoff_ledger.adapters.store.errors import NoLedger
from handoff_ledger.adapters.store.urls import parse_store_url
from handoff_ledger.adapters.views import Views

__all__ = ["init"]


@app.command()
def init(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Create the ledger at --db (events table, guard, views); one already there is kept."""
    store = parse_store_url(db)
    try:
        with ledger_at(db) as ledger:
            Views(ledger)  # an older store gains any view table it lacks
            head, created = ledger.head(), False
    except NoLedger:
        with ledger_at(db, create=True) as ledger:
            Views(ledger)
            head, created = 0, True
    if as_json:
        emit_json({"store": store.redacted, "created": created, "head": head})
    elif created:
        typer.echo(f"INIT: created a ledger at {store.redacted}")
    else:
        typer.echo(f"INIT: {store.redacted} already holds a ledger (log at position {head})")
