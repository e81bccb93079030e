"""``handoff demo``: PRODUCT.md's seed scenario, end to end, on a simulated clock.

It uses the same ledger, store, reactor and rendering as every other command, on
a fresh SQLite file (or ``--db``), so what it prints is what a user would see.
The person in charge (``human:me``) goes offline at 09:00. For six simulated hours
the agents work (and some do not) while three reactors run over the store: two in
this process, racing at every five-minute step, and a real ``handoff reactor``
process, which reads the same simulated time from a file (``HANDOFF_CLOCK``) and is
killed with SIGKILL at 09:57. At 15:00 the digest, the log and the chain trace
show what happened, and a final check counts from the log that every escalation
step and every follow-up happened once.

What it prints is the same on every run (every handoff has an idempotency key, so
its id is fixed; each step's reactor effects are read back from the log, whichever
reactor won them), apart from the temporary folder's name.

Why this module is long (over 400 lines): it is one script, read top to bottom as
the story PRODUCT.md tells (the morning, six hours offline with three reactors and a
SIGKILL, the return); cutting it into modules would scatter one narrative.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from handoff_ledger.adapters.cli.app import app
from handoff_ledger.adapters.cli.digest_commands import digest_lines
from handoff_ledger.adapters.cli.options import fresh_views
from handoff_ledger.adapters.cli.reactor_commands import follow_up_route
from handoff_ledger.adapters.cli.render import ack_text, console, handoff_text, log_lines, ref
from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.cli.trace_commands import chain_tree
from handoff_ledger.adapters.ledger.application import Ledger, ProtocolVersion
from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock
from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.services.diagnosis import gaps_document
from handoff_ledger.adapters.services.digest import build_digest
from handoff_ledger.adapters.services.follow_ups import FOLLOW_UP_KEY_PREFIX
from handoff_ledger.adapters.services.human_times import human_text, human_time
from handoff_ledger.adapters.services.queries import chain_document
from handoff_ledger.adapters.services.reactor import REACTOR, Reactor
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

DEMO_START = datetime(2026, 11, 25, 8, 40, tzinfo=UTC)
OFFLINE_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OFFLINE_FOR = timedelta(hours=6)
TICK = timedelta(minutes=5)
KILL_AT = datetime(2026, 11, 25, 9, 57, tzinfo=UTC)
"""When the ``handoff reactor`` process is SIGKILLed (the refund's ack falls due at 10:00)."""
CHILD_PASSES = 2
"""At each step while it lives, the reactor process ends this many passes before the
ones in this process run: the second began at that step's time, so the process saw
what fell due and took it (it is not left to the luck of scheduling)."""
CHILD_WAIT = 20.0
"""Seconds to wait for those passes (or for the process to start) before going on."""
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
    clock = FileClock(folder / "clock")
    clock.set(DEMO_START)
    ledger = open_ledger(url, clock=clock)
    reactors = [Reactor(open_ledger(url, clock=clock)) for _ in range(2)]
    scenario = Scenario(ledger, reactors, clock, url)
    try:
        version = ledger.apply_protocol(SEED_PROTOCOL, source=str(protocol_file), by="human:me")
        scenario.protocol_at = ledger.head()
        scenario.spawn_child()  # it starts while the morning runs
        typer.echo(
            f"# store: {url}\n# protocol {protocol_file} applied as version {version.version}\n"
        )
        scenario.morning()
        scenario.six_hours_offline()
        scenario.back_online(version)
        typer.echo(
            f"\nTry it yourself: handoff log --db {url}\n"
            f"                 handoff digest --since {human_time(OFFLINE_AT)} --for human:me "
            f"--db {url}"
        )
    finally:
        scenario.stop_child()
        for reactor in reactors:
            reactor.close()
            reactor.ledger.close()
        ledger.close()


class Scenario:
    """The seed scenario's script: who does what, when, and what the reactors do."""

    def __init__(self, ledger: Ledger, reactors: list[Reactor], clock: FileClock, url: str) -> None:
        self.ledger = ledger
        self.reactors = reactors
        self.clock = clock
        self.url = url
        self.protocol_at = 0
        self.shown = 0  # the log position up to which reactor effects were printed
        self.child: subprocess.Popen[str] | None = None
        self.child_exit: int | None = None
        self.child_escalated: list[str] = []
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
            key="T-88",
        ).handoff
        ledger.ack(self.export.id, by="code_agent", next_update=timedelta(minutes=45))
        self.say("code_agent acks a data export for support_agent; next update in 45m")
        clock.set(OFFLINE_AT)
        self.say("inbox_monitor finds a bug report in msg_123 and hands it off (key msg_123):")
        self.bug = ledger.send(
            sender="inbox_monitor", kind="bug_report", payload=BUG, key="msg_123"
        ).handoff
        typer.echo(handoff_text(self.bug, clock.now()) + "\n")
        self.resend()
        self.refund = ledger.send(
            sender="inbox_monitor",
            to="support_agent",
            trigger="Refund request in msg_124",
            payload={"email_id": "msg_124", "customer": "raj@company.com"},
            ack_within=timedelta(hours=1),
            escalate_to=["human:me"],
            key="msg_124",
        ).handoff
        self.say(f"inbox_monitor hands a refund request to support_agent: {ref(self.refund)}")
        self.child_running()
        self.say("human:me goes offline for six hours.\n")
        clock.advance(timedelta(minutes=2))
        acked = ledger.ack(
            self.bug.id, by="code_agent", eta=timedelta(hours=2), next_update=timedelta(minutes=30)
        )
        position = fresh_views(ledger).read.queue_position(str(self.bug.id))
        self.say(ack_text(acked.handoff, position, clock.now(), recorded=True))

    def resend(self) -> None:
        """inbox_monitor sends the same report again with the same key, as a monitor
        that restarted, or retried after a timeout, would: the ledger answers with the
        handoff the key already made, and writes nothing."""
        head = self.ledger.head()
        again = self.ledger.send(
            sender="inbox_monitor", kind="bug_report", payload=BUG, key="msg_123"
        )
        written = self.ledger.head() - head
        if again.duplicate and again.handoff.id == self.bug.id and not written:
            outcome = (
                f"same handoff {ref(again.handoff)}, nothing new written "
                f"(the log still ends at #{head})"
            )
        else:
            outcome = f"a second handoff {ref(again.handoff)}, {written} events written"
        self.say(f"inbox_monitor restarts and re-sends msg_123 with the same key: {outcome}")

    # ------------------------------------------------------------------ reactors

    def spawn_child(self) -> None:
        """A real ``handoff reactor`` process on the same store, reading the demo's time
        from the clock file; it runs until SIGKILLed at ``KILL_AT``."""
        env = {**os.environ, CLOCK_ENV: f"file:{self.clock.path}", "HANDOFF_DB": self.url}
        # Every pass written as it ends (not idle ones added up for seconds,
        # reactor_passes.WRITE_EVERY): ``let_child_pass`` counts them in the pass row.
        command = (
            "from handoff_ledger.adapters.services import reactor_passes; "
            "reactor_passes.WRITE_EVERY = 0.0; "
            "from handoff_ledger.adapters.cli.main import main; main()"
        )
        self.child = subprocess.Popen(
            [sys.executable, "-c", command, "reactor", "--interval", "0.01", "--json"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def child_running(self) -> None:
        """Wait for the reactor process to say it runs (it passes right after)."""
        assert self.child is not None
        assert self.child.stderr is not None
        started = self.child.stderr.readline()  # "reactor: running (Ctrl-C to stop)"
        if not started.startswith("reactor: running"):
            self.child.wait(timeout=CHILD_WAIT)
            rest = self.child.stderr.read()
            raise RuntimeError(f"the handoff reactor process did not start: {started}{rest}")
        self.say(
            "three reactors now run: two in this process, racing at every step, and a "
            f"handoff reactor process (to be SIGKILLed at {KILL_AT:%H:%M})"
        )

    def let_child_pass(self) -> None:
        """Wait until the reactor process has ended ``CHILD_PASSES`` passes at this time."""
        if self.child is None:
            return
        passes = self.reactors[0].passes
        totals = passes.totals()
        before = totals.passes if totals else 0
        waited = time.monotonic() + CHILD_WAIT
        while time.monotonic() < waited and self.child.poll() is None:
            totals = passes.totals()
            if totals is not None and totals.passes - before >= CHILD_PASSES:
                return
            time.sleep(0.002)

    def kill_child(self) -> None:
        """SIGKILL, mid-run: no chance to finish a pass or close anything."""
        child = self.child
        assert child is not None
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=CHILD_WAIT)
        self.child, self.child_exit = None, child.returncode
        self.child_escalated = _escalated_by(out)
        how = "" if child.returncode == -signal.SIGKILL else ", but it had stopped already"
        self.say(
            f"SIGKILL to the handoff reactor process, mid-run (exit {child.returncode}{how}); "
            f"it had escalated {len(self.child_escalated)}. The two in this process go on."
        )

    def stop_child(self) -> None:
        """The demo failed before ``KILL_AT``: leave no process behind."""
        if self.child is not None:
            self.child.kill()
            self.child.communicate(timeout=CHILD_WAIT)
            self.child = None

    def run_reactors(self) -> None:
        """Both reactors of this process run a pass at once, then what any reactor did
        since the last step is printed from the log (who won each race varies)."""
        with ThreadPoolExecutor(len(self.reactors)) as pool:
            list(pool.map(lambda reactor: reactor.run_once(), self.reactors))
        for entry in self.ledger.read_log(after=self.shown):
            self.shown = entry.position
            event = entry.event
            handoff = self.ledger.get(event.originator_id)
            if isinstance(event, Handoff.Escalated):
                moved = "" if event.action == "notify" else f", reassigned to {handoff.receiver}"
                self.say(
                    f"REACTOR: ESCALATED {ref(handoff)} {event.reason} level {event.level}"
                    f" → {', '.join(event.notified)}{moved}"
                )
            elif isinstance(event, Handoff.Created) and (event.key or "").startswith(
                FOLLOW_UP_KEY_PREFIX
            ):
                self.say(f"REACTOR: FOLLOW_UP {follow_up_route(handoff)}")

    # ------------------------------------------------------------------ the six hours

    def six_hours_offline(self) -> None:
        """09:02-15:00: agents act at their times; at every step (five minutes) and after
        every action, the reactors pass."""
        script: dict[datetime, Callable[[], None]] = {
            datetime(2026, 11, 25, 9, 30, tzinfo=UTC): self.progress,
            datetime(2026, 11, 25, 10, 20, tzinfo=UTC): self.complete_bug,
            datetime(2026, 11, 25, 10, 35, tzinfo=UTC): self.route_reply,
            datetime(2026, 11, 25, 11, 5, tzinfo=UTC): self.review,
        }
        end = OFFLINE_AT + OFFLINE_FOR
        moments = set(script)
        moment = self.clock.now()
        while moment < end:
            moment = min(moment + TICK, end)
            moments.add(moment)
        self.shown = self.ledger.head()
        for moment in sorted(moments):
            self.clock.set(moment)
            if self.child is not None:
                self.let_child_pass()
                if moment >= KILL_AT:
                    self.kill_child()
            if moment in script:
                script[moment]()
            self.run_reactors()

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

    # ------------------------------------------------------------------ 15:00

    def back_online(self, protocol: ProtocolVersion) -> None:
        """15:00: the digest, the log, the chain trace and the check."""
        ledger = self.ledger
        self.say("human:me is back.\n")
        views = fresh_views(ledger)
        document = build_digest(ledger, views, since=OFFLINE_AT, agent="human:me")
        for line in digest_lines(document, admin=ledger.is_admin("human:me")):
            typer.echo(line)
        typer.echo("\nTHE HANDOFF LOG:")
        at = self.protocol_at  # 1, unless --db named a store with a log already
        skipped = "so it starts at #2" if at == 1 else "so it leaves it out"
        typer.echo("  " + protocol_line(protocol, at))
        typer.echo(
            f"          ↳ #{at} is the protocol itself: the rules every later event was checked\n"
            "            against (handoff protocol show prints it; handoff log lists only\n"
            f"            the handoffs' events, {skipped})"
        )
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
        typer.echo(check(ledger, self.child_exit, self.child_escalated))
        audit = verify_ledger(ledger)
        verdict = "every hash chain intact" if audit.ok else f"{len(audit.problems)} problems"
        typer.echo(f"AUDIT: {audit.handoffs} handoffs, {audit.events} events: {verdict}.")


def protocol_line(protocol: ProtocolVersion, position: int) -> str:
    """Event #1 in the log's own layout (``handoff log`` leaves it out: not a handoff's)."""
    name = Path(protocol.source).name
    return (
        f"#{position:<6} {human_time(protocol.applied_at)}  {'Protocol':<15} "
        f"version {protocol.version}  by {protocol.applied_by}  source={name} "
        f"sha256={protocol.sha256[:12]}"
    )


def _escalated_by(out: str) -> list[str]:
    """The escalations a ``reactor --json`` process reported before it died."""
    found: list[str] = []
    for line in out.splitlines():
        try:
            document: dict[str, Any] = json.loads(line)
        except ValueError:
            continue  # a line cut short by the SIGKILL
        found.extend(step["id"] for step in document.get("escalated", []))
    return found


def check(ledger: Ledger, child_exit: int | None, child_escalated: list[str]) -> str:
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
    verdict = "nothing done twice" if twice == 0 else f"{twice} done twice"
    each = "each once" if not any(n > 1 for n in steps.values()) else "some more than once"
    killed = "SIGKILLed" if child_exit == -signal.SIGKILL else f"ended (exit {child_exit})"
    return (
        f"\nCHECK: {len(steps)} escalation steps, {each}; {completions} routed completions, "
        f"{sum(children.values())} follow-ups; {verdict},\n"
        f"       with three reactors ('{REACTOR}' in the log) on the store: two in this process "
        f"racing at every\n       step, and a handoff reactor process {killed} at "
        f"{KILL_AT:%H:%M} (it had escalated {len(child_escalated)})."
    )
