"""``handoff demo``: a short end-to-end run of the seed scenario on a simulated clock.

It uses the same ledger, store and rendering as every other command, on a fresh
SQLite file (or ``--db``), so what it prints is what a user would see. The full
six-hours-offline scenario arrives with the reactor.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from handoff_ledger.adapters.bootstrap import open_ledger
from handoff_ledger.adapters.cli.app import app
from handoff_ledger.adapters.cli.options import fresh_views
from handoff_ledger.adapters.cli.render import ack_text, handoff_text, history_text, log_lines, ref
from handoff_ledger.adapters.clock import SimulatedClock
from handoff_ledger.adapters.seed import SEED_PROTOCOL
from handoff_ledger.domain.states import Status

DEMO_START = datetime(2026, 11, 25, 8, 40, tzinfo=UTC)


@app.command()
def demo(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: a new SQLite file in a temporary folder)."),
    ] = None,
) -> None:
    """The seed scenario on the embedded default, with a simulated clock."""
    folder = Path(tempfile.mkdtemp(prefix="handoff-demo-"))
    url = db or f"sqlite:///{folder / 'handoff.db'}"
    protocol_file = folder / "handoff.toml"
    protocol_file.write_text(SEED_PROTOCOL, encoding="utf-8")
    clock = SimulatedClock(DEMO_START)
    ledger = open_ledger(url, clock=clock)
    say = typer.echo
    try:
        version = ledger.apply_protocol(SEED_PROTOCOL, source=str(protocol_file), by="human:me")
        say(f"# store: {url}\n# protocol {protocol_file} applied as version {version.version}\n")

        # code_agent already holds one piece of work, so the bug report queues behind it.
        earlier = ledger.send(
            sender="support_agent",
            to="code_agent",
            trigger="Customer asked for a data export",
            payload={"ticket": "T-88"},
        ).handoff
        ledger.ack(earlier.id, by="code_agent")
        clock.advance(timedelta(minutes=20))

        say(f"[{clock.now():%H:%M}] inbox_monitor finds a bug report in msg_123 and hands it off:")
        bug = ledger.send(
            sender="inbox_monitor",
            kind="bug_report",
            payload={
                "email_id": "msg_123",
                "customer": "jane@company.com",
                "issue": "Login button not working on mobile",
                "reproduction_steps": ["Open the app on iOS", "Tap Log in", "Nothing happens"],
                "expected_outcome": "Investigate and provide timeline",
            },
            key="msg_123",
        ).handoff
        say(handoff_text(bug, clock.now()) + "\n")

        clock.advance(timedelta(minutes=2))
        acked = ledger.ack(
            bug.id, by="code_agent", eta=timedelta(hours=2), next_update=timedelta(minutes=30)
        )
        position = fresh_views(ledger).read.queue_position(str(bug.id))
        say(
            f"[{clock.now():%H:%M}] "
            + ack_text(acked.handoff, position, clock.now(), recorded=True)
        )

        clock.advance(timedelta(minutes=30))
        ledger.report_status(
            bug.id, by="code_agent", status=Status.PROGRESS, message="Reproduced on iOS Safari"
        )
        say(f"[{clock.now():%H:%M}] STATUS: code_agent on {ref(bug)}: progress")

        clock.advance(timedelta(minutes=50))
        findings = {
            "cause": "touch handler swallowed by an overlay",
            "fix": "PR #412",
            "timeline": "ships today",
            "reply": "We found the cause; a fix ships today.",
        }
        ledger.complete(bug.id, by="code_agent", result=findings)
        say(f"[{clock.now():%H:%M}] HANDOFF_COMPLETE: code_agent completed {ref(bug)}")

        reply = ledger.send(
            sender="code_agent",
            kind="customer_reply",
            parent_id=bug.id,
            payload={
                "customer": "jane@company.com",
                "reply": "We found the cause; a fix ships today.",
            },
        ).handoff
        ledger.ack(reply.id, by="inbox_monitor")
        ledger.complete(reply.id, by="inbox_monitor", result={"routed_to": "support_agent"})
        review = ledger.send(
            sender="inbox_monitor",
            kind="final_review",
            parent_id=reply.id,
            payload={"reply": "We found the cause; a fix ships today."},
        ).handoff
        say(
            f"[{clock.now():%H:%M}] follow-ups: {ref(reply)} → inbox_monitor, "
            f"then {ref(review)} → support_agent (chain {bug.chain_id})\n"
        )

        say("THE HANDOFF LOG:")
        for line in log_lines(ledger.read_log()):
            say("  " + line)
        say(f"\nHISTORY OF {bug.id}:")
        say(history_text(ledger.history(bug.id)))
        say(
            f"\nTry it yourself: handoff log --db {url}\n"
            f"                 handoff inbox support_agent --db {url}"
        )
    finally:
        ledger.close()
