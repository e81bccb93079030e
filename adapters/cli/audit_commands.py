"""For auditors: ``audit verify`` (hash chains, the guard, anchors), ``audit anchor``,
``audit keygen`` and ``export``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.options import (
    DbOption,
    JsonOption,
    fresh_views,
    ledger_at,
    read_time,
)
from handoff_ledger.adapters.cli.progress import progress_bar
from handoff_ledger.adapters.services.anchor import (
    AnchorCheck,
    check_anchor,
    generate_key,
    load_private_key,
    load_public_key,
    take_anchor,
)
from handoff_ledger.adapters.services.audit import audit_document, verify_ledger
from handoff_ledger.adapters.services.export import export_lines
from handoff_ledger.adapters.services.human_times import human_value
from handoff_ledger.adapters.services.ids import resolve_id
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.ids import read_id

__all__: list[str] = []

audit_app = typer.Typer(help="Check the log for tampering.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    handoff_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="One handoff (default: all).")
    ] = None,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="An anchor file or URL (audit anchor): prove the log still extends it. "
            "Repeatable.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The Ed25519 public key (PEM) anchors are checked with."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> int:
    """Check every handoff's hash chain; exit 1 naming each altered, removed or inserted event."""
    given = read_id(handoff_id) if handoff_id is not None else None
    if anchor and public_key is None:
        raise InvalidInput(
            "public-key: required with --anchor (the key you keep, not the anchor's)"
        )
    key = load_public_key(public_key) if public_key is not None else None
    documents = [(source, _read_anchor(source)) for source in anchor or []]
    with ledger_at(db) as ledger:
        hid = resolve_id(ledger, given) if given is not None else None
        with progress_bar("verifying hash chains", ledger.head()) as advance:
            report = verify_ledger(ledger, hid, progress=advance if hid is None else None)
        checks = [check_anchor(ledger, s, d, key) for s, d in documents] if key else []
    failed = [c for c in checks if not c.ok]
    ok = report.ok and not failed
    if as_json:
        document: dict[str, Any] = dict(audit_document(report))
        if anchor:
            document["ok"] = ok
            document["anchors"] = [_anchor_document(c) for c in checks]
        emit_json(document)
    else:
        scope = f"handoff {report.scope}" if report.scope else "the ledger"
        typer.echo(
            f"AUDIT: {scope}: {report.handoffs} handoffs, {report.events} events"
            + (f" ({report.unsealed} recorded before hash chains)" if report.unsealed else "")
        )
        typer.echo(f"GUARD: {report.guard.table}: {report.guard.detail}")
        for problem in report.problems:
            typer.echo(f"{problem.problem.upper()}: {problem.message}")
        for check in checks:
            taken = human_value(check.taken_at or "-")
            where = f"{check.source} (position {check.position}, taken {taken})"
            if check.ok:
                typer.echo(f"ANCHOR: {where}: the log extends it")
            for message in check.problems:
                typer.echo(f"ANCHOR: {where}: {message}")
        if ok:
            typer.echo("OK: every hash chain is intact.")
        else:
            count = len(report.problems) + sum(len(c.problems) for c in failed)
            typer.echo(f"FAILED: {count} problems found.", err=True)
    return 0 if ok else 1


def _anchor_document(check: AnchorCheck) -> dict[str, Any]:
    return {
        "source": check.source,
        "position": check.position,
        "taken_at": check.taken_at,
        "ok": check.ok,
        "problems": check.problems,
    }


def _read_anchor(source: str) -> Any:
    """An anchor document from a file or an http(s) URL."""
    import httpx  # here: every other command starts without it (~0.1 s)

    try:
        if source.startswith(("http://", "https://")):
            response = httpx.get(source, timeout=30)
            response.raise_for_status()
            text = response.text
        else:
            text = Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        raise InvalidInput(f"anchor: cannot read {source}: {exc}") from None


@audit_app.command("anchor")
def anchor_command(
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="The Ed25519 private key (PEM); default: env HANDOFF_ANCHOR_KEY."
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="A file, or an http(s) URL to PUT it to (default: stdout)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Sign the log's head (position, digests of chains, tokens, protocol) into an anchor."""
    path = key or (
        Path(os.environ["HANDOFF_ANCHOR_KEY"]) if "HANDOFF_ANCHOR_KEY" in os.environ else None
    )
    if path is None:
        raise InvalidInput("key: give --key FILE (or set HANDOFF_ANCHOR_KEY); see audit keygen")
    private = load_private_key(path)
    with ledger_at(db) as ledger:
        document = take_anchor(ledger, private)
    text = json.dumps(document, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    elif out.startswith(("http://", "https://")):
        import httpx  # here: every other command starts without it

        try:
            httpx.put(out, content=text, timeout=30).raise_for_status()
        except httpx.HTTPError as exc:
            raise InvalidInput(f"out: cannot PUT the anchor to {out}: {exc}") from None
    else:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"out: cannot write {out}: {exc}") from None


@audit_app.command("keygen")
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="The private key file; the public key goes to OUT.pub.")
    ],
) -> None:
    """Make an Ed25519 key pair for anchors: keep the private key away from the database."""
    private, public = generate_key()
    public_path = out.with_name(out.name + ".pub")
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InvalidInput(f"out: cannot create {out}: {exc}") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(private)
    public_path.write_bytes(public)
    typer.echo(f"KEY: {out} (private, keep it off the database host); {public_path} (public)")


@app.command()
def export(
    chain: Annotated[
        str | None, typer.Option("--chain", help="Only this chain (its id or any handoff's).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="A time, or a duration back (6h).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="A time, or a duration back (1h).")
    ] = None,
    db: DbOption = None,
) -> None:
    """The log as JSON lines for auditors: every event with its hash-chain link (docs/audit.md)."""
    chain_given = read_id(chain, "chain") if chain is not None else None
    since_time, until_time = read_time(since, "since"), read_time(until, "until")
    with ledger_at(db) as ledger:
        chain_id = resolve_id(ledger, chain_given, "chain") if chain_given else None
        lines = export_lines(fresh_views(ledger), chain_id, since_time, until_time)
        # The whole log: one line per log position; a part of it: no total to show.
        whole = chain_id is None and since_time is None and until_time is None
        with progress_bar("exporting", ledger.head() if whole else None) as advance:
            for line in lines:
                emit_json(line)
                advance(1)
