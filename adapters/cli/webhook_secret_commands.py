"""``handoff agents webhook-secret set|remove|list``: signing secrets of webhooks."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from handoff_ledger.adapters.cli.app import agents_app, emit_json
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at, read_duration
from handoff_ledger.adapters.cli.render import console
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.vocabulary import (
    WebhookSecretEntry,
    WebhookSecretList,
    WebhookSecretSet,
    WebhookSecretsRemoved,
)
from handoff_ledger.adapters.services.webhook_secrets import WebhookSecrets
from handoff_ledger.adapters.views import Views

secret_app = typer.Typer(
    help="Signing secrets of webhooks (Standard Webhooks), kept outside the log.",
    no_args_is_help=True,
)
agents_app.add_typer(secret_app, name="webhook-secret")

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The agent whose webhook.")]


@secret_app.command("set")
def secret_set(
    name: NameArgument,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Use this secret (whsec_…) instead of a generated one."),
    ] = None,
    keep_old: Annotated[
        str,
        typer.Option(
            "--keep-old",
            help="How long the secret this one replaces keeps signing too (0 ends it now).",
        ),
    ] = "24h",  # webhook_secrets.KEEP_OLD
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give agent NAME a new signing secret (printed once); the old one signs on a while."""
    keep = timedelta(0) if keep_old in ("0", "0s") else read_duration(keep_old, "keep_old")
    assert keep is not None
    with ledger_at(db, create=True) as ledger:
        store = WebhookSecrets(ledger, Views(ledger).store)
        kept = store.listing()
        value = store.set(name, secret, keep_old=keep)
        until = ledger.clock.now() + keep
    replaced = any(s.agent == name and s.expires_at is None for s in kept)
    answer: WebhookSecretSet = {
        "agent": name,
        "secret": value,
        "previous_valid_until": iso(until) if replaced else None,
    }
    if as_json:
        emit_json(answer)
        return
    typer.echo(f"WEBHOOK SECRET for {name}: {value}")
    if replaced:
        typer.echo(f"the previous secret signs too until {answer['previous_valid_until']}")
    typer.echo("Give it to the receiver: it is shown only this once.", err=True)


@secret_app.command("remove")
def secret_remove(
    name: NameArgument,
    old: Annotated[
        bool, typer.Option("--old", help="Only the replaced secrets: end a rotation now.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forget agent NAME's secrets (its deliveries go unsigned), or with --old the old ones."""
    with ledger_at(db, create=True) as ledger:
        count = WebhookSecrets(ledger, Views(ledger).store).remove(name, old_only=old)
    if as_json:
        removed: WebhookSecretsRemoved = {"agent": name, "removed": count}
        emit_json(removed)
    else:
        typer.echo(f"REMOVED: {count} secret{'' if count == 1 else 's'} of {name}")


@secret_app.command("list")
def secret_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every signing secret still valid: agent, fingerprint, since, until (never the secret)."""
    with ledger_at(db) as ledger:
        found = WebhookSecrets(ledger, Views(ledger).store).listing()
    rows: list[WebhookSecretEntry] = [
        {
            "agent": s.agent,
            "fingerprint": s.fingerprint,
            "created_at": iso(s.created_at),
            "expires_at": iso(s.expires_at),
        }
        for s in found
    ]
    if as_json:
        listed: WebhookSecretList = {"secrets": rows}
        emit_json(listed)
        return
    table = Table(title="Webhook secrets")
    for column in ("agent", "sha256", "since", "until"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["agent"],
            row["fingerprint"] + "…",
            str(row["created_at"]),
            str(row["expires_at"] or "current"),
        )
    console().print(table)
