"""``handoff demo``: PRODUCT.md's seed scenario, end to end, on a simulated clock.

It uses the same ledger, store, reactor and rendering as every other command, on
a fresh SQLite file (or ``--db``), so what it prints is what a user would see.
The person in charge (``human:me``) goes offline at 09:00; the reactor runs a pass
every five simulated minutes for six hours while the agents work (and some do
not); at 15:00 the digest, the log and the chain trace show what happened, and a
final check counts that every timer that fell due was escalated once and every
routed completion was followed up once.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from handoff_ledger.adapters.cli.app import app
from handoff_ledger.adapters.cli.digest_commands import digest_lines
from handoff_ledger.adapters.cli.options import fresh_views
from handoff_ledger.adapters.cli.reactor_commands import follow_up_route
from handoff_ledger.adapters.cli.render import ack_text, console, handoff_text, log_lines, ref
from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.cli.trace_commands import chain_tree
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.digest import build_digest
from handoff_ledger.adapters.services.human_times import human_text, human_time
from handoff_ledger.adapters.services.queries import chain_document
from handoff_ledger.adapters.services.reactor import PassReport, Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

DEMO_START = datetime(2026, 11, 25, 8, 40, tzinfo=UTC)
OFFLINE_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OFFLINE_FOR = timedelta(hours=6)
TICK = timedelta(minutes=5)
BUG = {
    "email_id": "msg_123",
    "customer": "jane@company.com",
    "issue": "Login button not working on mobile",
    "reproduction_steps": ["Open the app on iOS", "Tap Log in", "Nothing happens"],
    "expected_outcome": "Investigate and provide timeline",
}
REPLY = "We found the cause (an overlay swallowed taps); a fix ships today."


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
    reactor = Reactor(ledger)
    try:
        version = ledger.apply_protocol(SEED_PROTOCOL, source=str(protocol_file), by="human:me")
        typer.echo(
            f"# store: {url}\n# protocol {protocol_file} applied as version {version.version}\n"
        )
        scenario = Scenario(ledger, reactor, clock)
        scenario.morning()
        scenario.six_hours_offline()
        scenario.back_online()
        typer.echo(
            f"\nTry it yourself: handoff log --db {url}\n"
            f"                 handoff digest --since {human_time(OFFLINE_AT)} --for human:me "
            f"--db {url}"
        )
    finally:
        reactor.close()
        ledger.close()


class Scenario:
    """The seed scenario's script: who does what, when, and what the reactor does."""

    def __init__(self, ledger: Ledger, reactor: Reactor, clock: SimulatedClock) -> None:
        self.ledger = ledger
        self.reactor = reactor
        self.clock = clock
        self.bug: Handoff
        self.refund: Handoff
        self.export: Handoff

    def say(self, text: str) -> None:
        typer.echo(f"[{self.clock.now():%H:%M}] {text}")

    def morning(self) -> None:
        """08:40-09:02: work is handed out; the person in charge is still around."""
        ledger, clock = self.ledger, self.clock
        # code_agent already holds a data export, so the bug report queues behind it.
        self.export = ledger.send(
            sender="support_agent",
            to="code_agent",
            trigger="Customer asked for a data export",
            payload={"ticket": "T-88"},
            escalate_to=["human:me"],
        ).handoff
        ledger.ack(self.export.id, by="code_agent", next_update=timedelta(minutes=45))
        self.say("code_agent acks a data export for support_agent; next update in 45m")
        clock.set(OFFLINE_AT)
        self.say("inbox_monitor finds a bug report in msg_123 and hands it off:")
        self.bug = ledger.send(
            sender="inbox_monitor", kind="bug_report", payload=BUG, key="msg_123"
        ).handoff
        typer.echo(handoff_text(self.bug, clock.now()) + "\n")
        self.refund = ledger.send(
            sender="inbox_monitor",
            to="support_agent",
            trigger="Refund request in msg_124",
            payload={"email_id": "msg_124", "customer": "raj@company.com"},
            ack_within=timedelta(hours=1),
            escalate_to=["human:me"],
        ).handoff
        self.say(f"inbox_monitor hands a refund request to support_agent: {ref(self.refund)}")
        self.say("human:me goes offline for six hours.\n")
        clock.advance(timedelta(minutes=2))
        acked = ledger.ack(
            self.bug.id, by="code_agent", eta=timedelta(hours=2), next_update=timedelta(minutes=30)
        )
        position = fresh_views(ledger).read.queue_position(str(self.bug.id))
        self.say(ack_text(acked.handoff, position, clock.now(), recorded=True))

    def six_hours_offline(self) -> None:
        """09:02-15:00: agents work, go silent; the reactor passes every five minutes."""
        script = {
            datetime(2026, 11, 25, 9, 30, tzinfo=UTC): self.progress,
            datetime(2026, 11, 25, 10, 20, tzinfo=UTC): self.complete_bug,
            datetime(2026, 11, 25, 10, 35, tzinfo=UTC): self.route_reply,
            datetime(2026, 11, 25, 11, 5, tzinfo=UTC): self.review,
        }
        end = OFFLINE_AT + OFFLINE_FOR
        while self.clock.now() < end:
            self.clock.advance(min(TICK, end - self.clock.now()))
            for moment, action in script.items():
                if moment <= self.clock.now() and action in script.values():
                    script = {m: a for m, a in script.items() if a is not action}
                    action()
            self.show(self.reactor.run_once())

    def progress(self) -> None:
        self.ledger.report_status(
            self.bug.id,
            by="code_agent",
            status=Status.PROGRESS,
            message="Reproduced on iOS Safari",
            next_update=timedelta(hours=1),
        )
        self.say(f"STATUS: code_agent on {ref(self.bug)}: progress, Reproduced on iOS Safari")

    def complete_bug(self) -> None:
        findings = {"cause": "overlay swallowed taps", "fix": "PR #412", "reply": REPLY}
        self.ledger.complete(self.bug.id, by="code_agent", result=findings)
        self.say(f"HANDOFF_COMPLETE: code_agent completed {ref(self.bug)} (fix in PR #412)")

    def route_reply(self) -> None:
        reply = self._child_of(self.bug.id)
        self.ledger.ack(reply, by="inbox_monitor")
        self.ledger.complete(reply, by="inbox_monitor", result={"checked": True})
        self.say(f"inbox_monitor acks and completes the customer reply {str(reply)[:8]}")

    def review(self) -> None:
        review = self._child_of(self._child_of(self.bug.id))
        self.ledger.ack(review, by="support_agent")
        self.ledger.complete(review, by="support_agent", result={"sent_to": "jane@company.com"})
        self.say(f"support_agent reviews and sends the reply {str(review)[:8]}")

    def _child_of(self, parent: UUID) -> UUID:
        for entry in self.ledger.read_log():
            event = entry.event
            if isinstance(event, Handoff.Created) and event.parent_id == parent:
                return event.originator_id
        raise LookupError(f"no follow-up of {parent}")

    def show(self, report: PassReport) -> None:
        for step in report.steps:
            handoff = self.ledger.get(step.handoff_id)
            moved = f", reassigned to {handoff.receiver}" if step.level > 1 else ""
            self.say(
                f"REACTOR: ESCALATED {ref(handoff)} {step.reason.value} level {step.level}"
                f" → human:me{moved}"
            )
        for hid in report.follow_ups:
            self.say(f"REACTOR: FOLLOW_UP {follow_up_route(self.ledger.get(UUID(hid)))}")

    def back_online(self) -> None:
        """15:00: the digest, the log, the chain trace and the check."""
        ledger = self.ledger
        self.say("human:me is back.\n")
        document = build_digest(ledger, self.reactor.views, since=OFFLINE_AT, agent="human:me")
        for line in digest_lines(document):
            typer.echo(line)
        typer.echo("\nTHE HANDOFF LOG:")
        for line in log_lines(ledger.read_log()):
            typer.echo("  " + line)
        typer.echo("\nTRACE OF THE BUG REPORT'S CHAIN:")
        views = fresh_views(ledger)
        console().print(chain_tree(chain_document(views, self.bug.id, None)))
        typer.echo("\nWHERE CHAINS BROKE (handoff gaps):")
        for chain in gaps_document(views, ledger.clock.now())["chains"]:
            for found in chain["breaks"]:
                message = human_text(found["message"])
                typer.echo(f"  {found['handoff_id'][:8]} {found['kind']}: {message}")
        typer.echo(check(ledger))
        audit = verify_ledger(ledger)
        verdict = "every hash chain intact" if audit.ok else f"{len(audit.problems)} problems"
        typer.echo(f"AUDIT: {audit.handoffs} handoffs, {audit.events} events: {verdict}.")


def check(ledger: Ledger) -> str:
    """Nothing dropped, nothing twice: counted from the log, not from the views."""
    steps: Counter[tuple[UUID, str, datetime | None, int, int]] = Counter()
    children: Counter[UUID] = Counter()
    completions = 0
    for entry in ledger.read_log():
        event = entry.event
        if isinstance(event, Handoff.Escalated):
            key = (event.originator_id, event.reason, event.timer_due, event.level, event.repeat)
            steps[key] += 1
        elif isinstance(event, Handoff.Created) and event.parent_id is not None:
            children[event.parent_id] += 1
        elif isinstance(event, Handoff.Completed):
            handoff = ledger.get(event.originator_id)
            spec = ledger.kind_spec(handoff)
            completions += 1 if spec is not None and spec.on_complete is not None else 0
    twice = sum(1 for n in steps.values() if n > 1) + sum(1 for n in children.values() if n > 1)
    verdict = "nothing done twice" if twice == 0 else f"{twice} things done twice"
    return (
        f"\nCHECK: {len(steps)} escalation steps, each once; {completions} routed completions, "
        f"{sum(children.values())} follow-ups; {verdict}."
    )
