"""Forensics on chains and time: ``trace`` (where a chain broke), ``gaps``, ``replay``."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    AsOfOption,
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_time,
)
from handoff_ledger.adapters.cli.render import console
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.documents import parse_iso
from handoff_ledger.adapters.services.human_times import human_text, human_time, rough_duration
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.adapters.services.queries import chain_document, replay_document
from handoff_ledger.adapters.services.vocabulary import BreakDocument, ChainDocument
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.ids import read_id
from handoff_ledger.domain.states import TERMINAL_STATES

__all__ = ["chain_tree"]


@app.command()
def trace(
    handoff_id: Annotated[str, typer.Argument(metavar="ID")],
    as_of: AsOfOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The whole chain of a handoff as a tree with each step's timing, and where it broke."""
    given = read_id(handoff_id)
    moment = read_time(as_of, "as_of")
    with ledger_at(db) as ledger:
        hid = resolve_id(ledger, given)
        document = chain_document(fresh_views(ledger), hid, moment)
        if as_json:
            emit_json(document)
        else:
            console().print(chain_tree(document))


def chain_tree(document: ChainDocument) -> Tree:
    """The chain as a tree: each handoff with its timings, each break under its handoff."""
    breaks: dict[str, list[BreakDocument]] = {}
    for found in document["breaks"]:
        breaks.setdefault(found["handoff_id"], []).append(found)
    first = document["breaks"][0] if document["breaks"] else None
    verdict = (
        f"[bold red]BROKEN[/] at {human_time(first['at'])} ({len(document['breaks'])} break"
        f"{'s' if len(document['breaks']) > 1 else ''})"
        if first
        else "[green]intact[/]"
    )
    as_of = f" as of {human_time(document['as_of'])}" if document["as_of"] else ""
    root = Tree(f"CHAIN {document['chain_id']}{as_of}: {verdict}")
    nodes: dict[str | None, Any] = {None: root}
    for entry in document["handoffs"]:
        parent = nodes.get(entry["parent_id"], root)
        mark = "[bold red]✗[/] " if entry["id"] in breaks else ""
        label = mark + escape(
            f"{entry['sender']} → {entry['receiver']} [{entry['state']}] "
            f"{entry['kind'] or '-'} {entry['id'][:8]}: {_timings(entry)}"
        )
        node = parent.add(label)
        for found in breaks.get(entry["id"], []):
            node.add(
                f"[red]{escape(found['kind'])}[/] at {human_time(found['at'])}: "
                f"{escape(human_text(found['message']))} "
                f"[dim](owner: {escape(found['agent'])}; rule: {escape(found['rule'])})[/]"
            )
        nodes[entry["id"]] = node
    return root


def _timings(entry: dict[str, Any]) -> str:
    """``sent 09:00:00Z, acked +2m, completed +1h10m, escalated x1 (last +1h)``."""
    sent = parse_iso(entry["created_at"])
    parts = [f"sent {human_time(entry['created_at'])}"]

    def after(label: str, key: str) -> None:
        moment = parse_iso(entry.get(key))
        if moment is not None and sent is not None:
            parts.append(f"{label} +{rough_duration(moment - sent)}")

    after("acked", "acked_at")
    if entry["state"] in TERMINAL_STATES:
        after(entry["state"], "closed_at")
    if entry.get("escalations"):
        last = parse_iso(entry.get("last_escalation_at"))
        since = f" (last +{rough_duration(last - sent)})" if last and sent else ""
        parts.append(f"escalated x{entry['escalations']}{since}")
    if entry.get("reassignments"):
        parts.append(f"reassigned x{entry['reassignments']}")
    return ", ".join(parts)


@app.command()
def gaps(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only breaks since: a time, or a duration back (6h)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every broken chain in the ledger: where each broke, whose move it was, since when."""
    since_time = read_time(since, "since")
    with ledger_at(db) as ledger:
        document = gaps_document(fresh_views(ledger), ledger.clock.now(), since_time)
        if as_json:
            emit_json(document)
            return
        table = Table(title=f"Broken chains: {document['count']}")
        for column in ("chain", "root", "first break", "breaks", "owners"):
            table.add_column(column)
        for chain in document["chains"]:
            root = chain["root"]
            kinds = Counter(b["kind"] for b in chain["breaks"])
            table.add_row(
                chain["chain_id"][:8],
                escape(f"{root['sender']} → {root['receiver']} {root['kind'] or '-'}"),
                human_time(chain["first_break_at"]),
                ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items()),
                escape(", ".join(sorted({b["agent"] for b in chain["breaks"]}))),
            )
        console().print(table)
        if document["chains"]:
            typer.echo("handoff trace ID shows each chain's tree and why it broke.")


@app.command()
def replay(
    until: Annotated[str, typer.Option("--until", help="A time, or a duration back (1h).")],
    view: Annotated[
        list[str] | None, typer.Option("--view", help="Only this view (repeatable).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every view as it stood at --until, rebuilt in memory from the log (live views untouched)."""
    moment = read_time(until, "until")
    if moment is None:
        raise InvalidInput("until: a time is required")
    with ledger_at(db) as ledger:
        document = replay_document(fresh_views(ledger), moment, view or None)
        if as_json:
            emit_json(document)
            return
        typer.echo(f"REPLAY: the ledger as it stood at {human_time(moment)}")
        typer.echo(f"LOG: {document['events']} events, up to position {document['position']}")
        table = Table(title="Views")
        for column in ("view", "table", "rows"):
            table.add_column(column)
        for name, tables in document["views"].items():
            for table_name, rows in tables.items():
                table.add_row(name, table_name, str(len(rows)))
        console().print(table)
        queues = document["views"].get("queues", {}).get("queue")
        if queues:
            load = Counter(row["receiver"] for row in queues)
            typer.echo("QUEUES: " + ", ".join(f"{agent} {n}" for agent, n in sorted(load.items())))
        if document["overdue"] is not None:
            typer.echo(f"OVERDUE: {len(document['overdue'])} broken promises")
