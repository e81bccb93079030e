"""``handoff serve`` and ``handoff agents token create|revoke|list``."""

from __future__ import annotations

import copy
import ipaddress
import os
import threading
from typing import Annotated, Any

import typer
from rich.table import Table

from handoff_ledger.adapters.cli.app import agents_app, emit_json
from handoff_ledger.adapters.cli.app import app as cli_app
from handoff_ledger.adapters.cli.options import DbOption, JsonOption, ledger_at
from handoff_ledger.adapters.cli.reactor_commands import print_failures
from handoff_ledger.adapters.cli.render import console
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token, list_tokens, revoke_tokens
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.human_times import human_time, relative, rough_duration
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.reactor_passes import RECENT, ReactorPasses
from handoff_ledger.adapters.services.vocabulary import (
    TokenEntry,
    TokenIssued,
    TokenList,
    TokensRevoked,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import InvalidInput, NotPermitted

token_app = typer.Typer(help="Bearer tokens for the HTTP API and MCP.", no_args_is_help=True)
agents_app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The agent the token acts as.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="May cancel and reassign any handoff.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a bearer token for agent NAME; the token is printed once, never stored."""
    with ledger_at(db, create=True) as ledger:
        secret = issue_token(ledger, name, admin=admin)
    if as_json:
        issued: TokenIssued = {"agent": name, "admin": admin, "token": secret}
        emit_json(issued)
    else:
        typer.echo(f"TOKEN for {name}{' (admin)' if admin else ''}: {secret}")
        typer.echo("Keep it: it is shown only this once.", err=True)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="Revoke every token of this agent.")
    ] = None,
    token: Annotated[str | None, typer.Option("--token", help="Revoke this one token.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke every token of agent NAME, or one token with --token."""
    with ledger_at(db, create=True) as ledger:
        count = revoke_tokens(ledger, agent=name, secret=token)
    if as_json:
        revoked: TokensRevoked = {"agent": name, "revoked": count}
        emit_json(revoked)
    else:
        typer.echo(f"REVOKED: {count} token{'' if count == 1 else 's'}")


@token_app.command("list")
def token_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every token issued: its agent, admin or not, when, revoked or not (never the secret)."""
    with ledger_at(db) as ledger:
        tokens = list_tokens(ledger)
    rows: list[TokenEntry] = [
        {
            "agent": t.agent,
            "admin": t.admin,
            "hash_prefix": t.hash_prefix,
            "issued_at": iso(t.issued_at),
            "revoked_at": iso(t.revoked_at),
        }
        for t in tokens
    ]
    if as_json:
        listed: TokenList = {"tokens": rows}
        emit_json(listed)
        return
    table = Table(title="Tokens")
    for column in ("agent", "admin", "sha256", "issued", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["agent"]),
            "yes" if row["admin"] else "",
            str(row["hash_prefix"]) + "…",
            human_time(row["issued_at"]),
            human_time(row["revoked_at"], ""),
        )
    console().print(table)


@cli_app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)] = 8000,
    trial: Annotated[
        bool,
        typer.Option(
            "--trial",
            help="Local trial without tokens: loopback only; callers name themselves "
            "with the X-Handoff-Agent header.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Server processes (each with its own connections); the views are kept "
            "current by this process.",
            min=1,
            max=64,
        ),
    ] = 1,
    with_reactor: Annotated[
        bool,
        typer.Option(
            "--with-reactor",
            help="Run the reactor in this process too (timers, follow-ups, webhooks); "
            "other reactors may run beside it.",
        ),
    ] = False,
    reactor_interval: Annotated[
        float,
        typer.Option("--reactor-interval", help="Seconds between the reactor's passes.", min=0.01),
    ] = 1.0,
    metrics_public: Annotated[
        bool,
        typer.Option(
            "--metrics-public",
            help="Serve /metrics without a token (else it needs an admin token).",
        ),
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option("--access-log", help="Log every request on stderr (uvicorn's access log)."),
    ] = False,
    db: DbOption = None,
) -> None:
    """The HTTP API (its OpenAPI document at /openapi.json) and the web dashboard at /dashboard/."""
    import uvicorn

    from handoff_ledger.adapters.faces.http.metrics import METRICS_PUBLIC_ENV
    from handoff_ledger.adapters.faces.runtime.following import FollowForWorkers, FollowInChild
    from handoff_ledger.adapters.faces.runtime.service import TRIAL_ENV, Service
    from handoff_ledger.adapters.faces.server import create_app
    from handoff_ledger.adapters.store.urls import DEFAULT_URL, POOL_ENV, SERVE_POOL_SIZE

    if trial and not _is_loopback(host):
        raise InvalidInput(f"host: --trial listens on loopback only, not on {host!r}")
    os.environ.setdefault(POOL_ENV, SERVE_POOL_SIZE)  # its workers inherit it
    with ledger_at(db, create=trial) as ledger:
        if not trial and not list_tokens(ledger):
            raise NotPermitted(
                "serve: no tokens exist; create one with `handoff agents token create NAME`, "
                "or run a loopback-only trial with --trial"
            )
        stop = threading.Event()
        for line in startup_lines(
            ledger, host, port, trial=trial, with_reactor=with_reactor, views=Views(ledger)
        ):
            typer.echo(line, err=True)
        if workers == 1:
            application = create_app(
                ledger, trial=trial, following=FollowInChild(), metrics_public=metrics_public
            )
            follower = application.state.service.follow(stop)
            target: Any = application
        else:
            # Each worker process builds its own app from the environment (a factory);
            # this process only supervises them and keeps the views following the log.
            os.environ["HANDOFF_DB"] = db or os.environ.get("HANDOFF_DB") or DEFAULT_URL
            os.environ[TRIAL_ENV] = "1" if trial else ""
            os.environ[METRICS_PUBLIC_ENV] = "1" if metrics_public else ""
            supervisor = Service(ledger=ledger, views=Views(ledger), following=FollowForWorkers())
            follower = supervisor.follow(stop)
            target = "handoff_ledger.adapters.faces.server:app_from_env"
        reactor_thread = None
        if with_reactor:
            typer.echo(f"reactor: running in this process every {reactor_interval:g}s", err=True)
            reactor_thread = Reactor(ledger).run_in_thread(
                stop, interval=reactor_interval, on_pass=print_failures
            )
        try:
            uvicorn.run(
                target,
                factory=workers > 1,
                host=host,
                port=port,
                workers=workers if workers > 1 else None,
                log_level=None,
                log_config=_log_config(),
                access_log=access_log,
            )
        finally:
            stop.set()
            follower.join(timeout=10)
            if reactor_thread is not None:
                reactor_thread.join(timeout=10)


def startup_lines(
    ledger: Ledger, host: str, port: int, *, trial: bool, with_reactor: bool, views: Views
) -> list[str]:
    """What ``serve`` says as it starts (stderr): where, the dashboard, the mode, and
    whether any reactor keeps the timers (``services/reactor_passes.py``)."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [f"serving on {base} (Ctrl-C to stop)", f"dashboard: {base}/dashboard/"]
    if trial:
        lines.append(
            "trial mode: no tokens; loopback only; callers name themselves with the "
            "X-Handoff-Agent header (never expose this server)"
        )
    if with_reactor:
        return lines
    last = ReactorPasses(ledger, views.store).last()
    now = ledger.clock.now()
    if last is not None and now - last.at <= RECENT:
        lines.append(f"reactor: last pass {relative(last.at, now)}")
        return lines
    seen = (
        f"its last pass was {human_time(last.at)} ({relative(last.at, now)})"
        if last
        else "none ever has"
    )
    lines.append(
        f"warning: no reactor has run against this store in the last "
        f"{rough_duration(RECENT)} ({seen}): timers will not fire and follow-ups will not be "
        "created. Start `handoff reactor`, or serve with --with-reactor."
    )
    return lines


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, quieter: its own messages from warnings up; the access log (on
    with --access-log) at info."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is for answers
    return config


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
