"""Commands on the read side: notifications, watch, the agent board, projections."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from handoff_ledger.adapters.cli.app import agents_app, app, emit_json, projections_app
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
)
from handoff_ledger.adapters.cli.progress import progress_bar
from handoff_ledger.adapters.cli.render import console
from handoff_ledger.adapters.services.documents import iso, parse_iso
from handoff_ledger.adapters.services.human_times import human_time, rough_duration
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.promises import agents_board, kept_summary, summary_text
from handoff_ledger.adapters.services.queries import (
    log_horizon,
    notifications_document,
    view_status_entry,
)
from handoff_ledger.adapters.services.vocabulary import (
    AgentsDocument,
    ProjectionsStatus,
    PromiseAccuracy,
    Rebuilt,
    Watching,
)
from handoff_ledger.adapters.services.webhooks import Deliveries
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.adapters.views.service import lag_text
from handoff_ledger.domain.ids import read_id
from handoff_ledger.projections.base import us

AsAgent = Annotated[str, typer.Option("--as", help="The agent acting.")]


@app.command()
def notifications(
    agent: Annotated[str, typer.Argument(metavar="AGENT")],
    since: Annotated[
        int, typer.Option("--since", help="The cursor you last saw (entries after it).", min=0)
    ] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """An agent's feed of broadcasts on the chains it takes part in or watches."""
    with ledger_at(db) as ledger:
        document = notifications_document(fresh_views(ledger), agent, since, limit)
        entries, cursor = document["notifications"], document["next"]
        if as_json:
            emit_json(document)
            return
        for entry in entries:
            detail = entry["detail"]
            said = detail.get("status") or detail.get("reason") or detail.get("message") or ""
            typer.echo(
                f"[{entry['cursor']}] {human_time(entry['at'])} {entry['type']} {entry['id'][:8]} "
                f"by {entry['by']} {said}".rstrip()
            )
        typer.echo(f"NEXT: --since {cursor}")


@app.command()
def watch(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    agent: AsAgent,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe the --as agent to the chain of handoff ID: it hears every broadcast on it."""
    given = read_id(handoff_id)
    with ledger_at(db, create=True) as ledger:
        chain_id, new = ledger.watch(resolve_id(ledger, given), by=agent)
        if as_json:
            watching: Watching = {
                "agent": agent,
                "chain_id": str(chain_id),
                "watching": True,
                "new": new,
            }
            emit_json(watching)
        else:
            state = "now watches" if new else "already watched"
            typer.echo(f"WATCH: {agent} {state} chain {chain_id}")


@agents_app.command("list")
def list_agents(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The agent board: latest status, open load, oldest open item, ack punctuality,
    and how each agent kept its ETAs and update promises."""
    with ledger_at(db) as ledger:
        views = fresh_views(ledger)
        now = ledger.clock.now()
        board = agents_board(views, us(now) or 0)
        if as_json:
            agents: AgentsDocument = {"agents": board}
            emit_json(agents)
            return
        table = Table(title=f"Agents: {len(board)}")
        columns = ("agent", "status", "open", "oldest open", "acks on time", "late", "done")
        for column in (*columns, "promises kept"):
            table.add_column(column)
        for row in board:
            oldest = parse_iso(row["oldest_open_at"])
            kept = kept_summary(row["promises"]).get(row["agent"], {})
            table.add_row(
                row["agent"],
                escape(f"{row['status']}: {row['status_message'] or ''}") if row["status"] else "-",
                str(row["open_count"]),
                f"{row['oldest_open_id'][:8]} ({rough_duration(now - oldest)})" if oldest else "-",
                str(row["acks_on_time"]),
                str(row["acks_late"]),
                str(row["completed"]),
                summary_text(kept),
            )
        console().print(table)
        promises = [entry for row in board for entry in row["promises"]]
        if promises:
            console().print(_promises_table(promises))
        stored = views.store.versions().get("agents")
        if stored is not None and stored != views.projection("agents").version:
            typer.echo(
                f"note: the agents view was built by version {stored}: promises made before"
                " this version count once it is rebuilt (handoff projections rebuild agents)",
                err=True,
            )


def _promises_table(entries: list[PromiseAccuracy]) -> Table:
    """One row per agent, kind and promise: kept %, lateness, the last 7 days."""
    table = Table(title="Promises (kept %: on time; lateness: of the late ones)")
    for column in ("agent", "kind", "promise", "kept", "late", "broken", "p50 late", "p90 late"):
        table.add_column(column)
    table.add_column("kept % by day, last 7 (oldest first)")
    for e in entries:
        days = " ".join(_pct(day["kept_pct"]) for day in e.get("last_7_days", []))
        table.add_row(
            e["agent"],
            escape(e["kind"] or "-"),
            e["promise"],
            f"{_pct(e['kept_pct'])} ({e['kept']} of {e['counted']})",
            str(e["late"]),
            str(e["broken"]),
            _late(e["median_late_seconds"]),
            _late(e["p90_late_seconds"]),
            days,
        )
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


def _late(seconds: float | None) -> str:
    return "-" if seconds is None else rough_duration(timedelta(seconds=seconds))


@projections_app.command("status")
def projections_status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Each view's position, the log's head, lag in events and seconds, version."""
    with ledger_at(db) as ledger:
        views = Views(ledger)
        statuses = views.status()
        webhooks = Deliveries(ledger, views).status()
        horizon = log_horizon(ledger)
        if as_json:
            status: ProjectionsStatus = {
                "views": [view_status_entry(s) for s in statuses],
                "webhooks": [
                    {
                        "agent": w.agent,
                        "delivered": w.delivered,
                        "pending": w.pending,
                        "failing": w.failing,
                        "oldest_pending": w.oldest_pending,
                        "next_attempt": iso(w.next_attempt),
                        "last_error": w.last_error,
                    }
                    for w in webhooks
                ],
            }
            if horizon is not None:
                status["horizon"] = horizon
            emit_json(status)
            return
        table = Table(title="Views")
        for column in ("view", "position", "head", "lag", "version"):
            table.add_column(column)
        for s in statuses:
            version = f"v{s.code_version}"
            if s.stale:
                version += f" (rows from v{s.stored_version}: rebuild)"
            table.add_row(s.name, str(s.position), str(s.head), lag_text(s), version)
        console().print(table)
        if horizon is not None:
            oldest = horizon["oldest_transaction_seconds"]
            console().print(
                f"Log horizon: readable up to {horizon['readable']}; "
                f"{horizon['events_waiting']} committed event(s) waiting above it; oldest "
                "open transaction of a writer: " + ("none" if oldest is None else f"{oldest:.1f} s")
            )
        if webhooks:
            hooks = Table(title="Webhook deliveries")
            for column in ("agent", "delivered", "pending", "failing", "next attempt", "error"):
                hooks.add_column(column)
            for w in webhooks:
                hooks.add_row(
                    w.agent,
                    str(w.delivered),
                    str(w.pending),
                    str(w.failing),
                    human_time(w.next_attempt),
                    escape(w.last_error or "-"),
                )
            console().print(hooks)


_WRITER_AFTER = 50_000
"""Events to replay from which a rebuild starts a writer process (it takes ~1 s)."""


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="One view (default: all).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild views from the log beside the live ones, then swap them in."""
    with ledger_at(db) as ledger:
        views = Views(ledger)
        if name is not None:
            views.projection(name)
        total = views.store.count_events_after(0, VIEW_TOPICS)
        targets = [name] if name else [p.name for p in views.projections]
        started = time.monotonic()
        # One read of the log for every view; a long one is written by a second process.
        with progress_bar(f"rebuilding {name or 'every view'}", total) as advance:
            views.rebuild(name, progress=advance, separate_writer=total >= _WRITER_AFTER)
        if as_json:
            rebuilt: Rebuilt = {"rebuilt": targets, "events": total}
            emit_json(rebuilt)
        else:
            took = time.monotonic() - started
            typer.echo(f"REBUILT: {', '.join(targets)} from {total} events in {took:.1f}s")


@projections_app.command("run")
def projections_run(
    interval: Annotated[
        float, typer.Option("--interval", help="Polling interval in seconds.", min=0.01)
    ] = 0.1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Events per transaction.", min=1)
    ] = 2000,
    db: DbOption = None,
) -> None:
    """Keep every view up to date until stopped (SIGTERM or Ctrl-C stop it cleanly)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with ledger_at(db) as ledger:
        typer.echo("views: following the log (Ctrl-C to stop)", err=True)
        views = Views(ledger)
        views.runner.batch_size = batch_size
        views.run_forever(stop, poll_interval=interval)
