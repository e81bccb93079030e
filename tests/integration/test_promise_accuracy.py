"""Promise accuracy equals a count done independently from ``handoff log --json``.

A week and a half of simulated work on both stores: a scripted set of cases (an ETA
kept, one kept late, one re-promised before and one after it fell due, one declined,
update promises kept and missed, a reply and a take-over re-arming the update timer,
promises on handoffs later reassigned or cancelled, open promises past due and not
yet due) and then a seeded random mix of every lifecycle command.

``handoff log --json`` is then read in a subprocess and folded here by code that
shares nothing with the product's: each handoff's history is scanned forward from
every promise to the first event that keeps, breaks or replaces it (the view does
it event by event). The kept %, counts, median and p90 lateness and the 7-day trend
of ``handoff agents list --json``, and the promises of ``handoff digest --json``
over a window, must equal that count exactly.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import CLOCK_ENV, FileClock, SimulatedClock
from handoff_ledger.domain.errors import Refused
from handoff_ledger.domain.states import Status

HANDOFF = str(Path(sys.executable).parent / "handoff")
AGENTS = ("code_agent", "support_agent", "ops_agent")
KINDS = ("bug_report", "refund", None)
SENDER = "inbox_monitor"
DAY = timedelta(days=1)
M = timedelta(minutes=1)


def run(store_url: str, clock_file: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "HANDOFF_DEBUG"}
    env |= {"HANDOFF_DB": store_url, CLOCK_ENV: f"file:{clock_file}"}
    done = subprocess.run(
        [HANDOFF, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


# ------------------------------------------------------------------ the work


def scripted(ledger: Ledger, clock: SimulatedClock) -> None:
    """One of each case, on code_agent's bug reports (and ops_agent's refunds)."""

    def send(to: str = "code_agent", kind: str | None = "bug_report") -> UUID:
        return ledger.send(sender=SENDER, to=to, kind=kind).handoff.id

    def later(minutes: int) -> None:
        clock.advance(minutes * M)

    kept = send()
    ledger.ack(kept, by="code_agent", eta=2 * 60 * M, next_update=30 * M)
    later(20)
    ledger.report_status(kept, by="code_agent", status=Status.PROGRESS)  # update kept
    later(50)
    ledger.report_status(kept, by="code_agent", status=Status.WORKING)  # 20 min late
    later(30)
    ledger.complete(kept, by="code_agent")  # ETA kept (100 of 120 min)

    exact = send()
    ledger.ack(exact, by="code_agent", eta=60 * M, next_update=30 * M)
    later(30)
    ledger.report_status(exact, by="code_agent", status=Status.WORKING)  # at its due time
    later(30)
    ledger.complete(exact, by="code_agent")  # at its due time: kept

    late = send()
    ledger.ack(late, by="code_agent", eta=60 * M)
    later(95)
    ledger.complete(late, by="code_agent")  # ETA 35 min late

    early = send()
    ledger.ack(early, by="code_agent", eta=60 * M)
    later(30)
    ledger.report_status(early, by="code_agent", status=Status.PROGRESS, eta=3 * 60 * M)
    later(200)
    ledger.fail(early, by="code_agent", reason="no")  # 1st ETA replaced in time, 2nd late

    replaced_late = send("ops_agent", "refund")
    ledger.ack(replaced_late, by="ops_agent", eta=30 * M)
    later(45)
    ledger.report_status(replaced_late, by="ops_agent", status=Status.WORKING, eta=60 * M)
    later(10)
    ledger.complete(replaced_late, by="ops_agent")  # 1st 15 min late, 2nd kept

    declined = send("ops_agent", "refund")
    ledger.ack(declined, by="ops_agent", eta=60 * M, next_update=60 * M)
    later(10)
    ledger.decline(declined, by="ops_agent", reason="not ours")  # ETA broken, update kept

    replied = send()
    ledger.ack(replied, by="code_agent", next_update=30 * M)
    later(10)
    ledger.report_status(replied, by="code_agent", status=Status.NEED_HELP)
    later(50)
    ledger.reply(replied, by=SENDER, message="use runner 2")  # replaces it, 10 min late
    later(5)
    ledger.complete(replied, by="code_agent")

    taken = send()
    ledger.ack(taken, by="code_agent", eta=5 * 60 * M, next_update=20 * M, worker="w1")
    later(25)
    ledger.take_over(taken, by="code_agent", worker="w2")  # update replaced 5 min late
    later(10)
    ledger.complete(taken, by="code_agent")

    for outcome in ("reassign", "cancel"):
        gone = send()
        ledger.ack(gone, by="code_agent", eta=60 * M, next_update=10 * M)
        later(30)
        ledger.report_status(gone, by="code_agent", status=Status.WORKING)
        if outcome == "reassign":
            ledger.reassign(gone, by=SENDER, to="support_agent", reason="busy")
            ledger.ack(gone, by="support_agent", eta=10 * M)
            later(30)
            ledger.complete(gone, by="support_agent")
        else:
            ledger.cancel(gone, by=SENDER, reason="sent twice")

    overdue = send("support_agent", None)
    ledger.ack(overdue, by="support_agent", eta=60 * M, next_update=15 * M)  # left open
    later(1)


def random_mix(ledger: Ledger, clock: SimulatedClock, steps: int, seed: int) -> None:
    """Every lifecycle command, at random over about a week; refusals are skipped."""
    rng = random.Random(seed)
    open_ids: list[UUID] = []
    for _ in range(steps):
        clock.advance(rng.randint(5, 120) * M)
        if not open_ids or rng.random() < 0.3:
            to, kind = rng.choice(AGENTS), rng.choice(KINDS)
            open_ids.append(ledger.send(sender=SENDER, to=to, kind=kind).handoff.id)
            continue
        hid = rng.choice(open_ids)
        handoff = ledger.get(hid)
        action = rng.choice(
            ["ack"] * 3 + ["status"] * 4 + ["complete"] * 2 + ["take_over"] * 2
            + ["fail", "decline", "cancel", "reassign", "reply", "wait"]
        )  # fmt: skip
        try:
            act(ledger, rng, hid, handoff, action)
        except Refused:
            continue  # e.g. a take-over of a handoff no worker holds
        if not ledger.get(hid).is_open:
            open_ids.remove(hid)


def act(ledger: Ledger, rng: random.Random, hid: UUID, handoff: Any, action: str) -> None:
    """One command of the mix on handoff ``hid``."""
    me = handoff.receiver

    def duration() -> timedelta | None:
        return rng.choice([None, 15 * M, 40 * M, 90 * M, 4 * 60 * M, DAY, 2 * DAY])

    if action == "ack":
        worker = rng.choice([None, "w1"])
        ledger.ack(hid, by=me, eta=duration(), next_update=duration(), worker=worker)
    elif action == "status":
        status = rng.choice(list(Status))
        ledger.report_status(hid, by=me, status=status, eta=duration(), next_update=duration())
    elif action == "complete":
        ledger.complete(hid, by=me)
    elif action == "fail":
        ledger.fail(hid, by=me, reason="could not")
    elif action == "decline":
        ledger.decline(hid, by=me, reason="not mine")
    elif action == "cancel":
        ledger.cancel(hid, by=SENDER, reason="withdrawn")
    elif action == "reassign":
        others = [a for a in AGENTS if a != me]
        ledger.reassign(hid, by=SENDER, to=rng.choice(others), reason="moved")
    elif action == "reply":
        ledger.reply(hid, by=SENDER, message="an answer")
    elif action == "take_over":
        ledger.take_over(hid, by=me, worker="w2" if handoff.worker == "w1" else "w1")


# ------------------------------------------------------------------ the oracle


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def promises_from_log(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every promise of every handoff never reassigned or cancelled, with how it ended.

    A promise is made by an event that puts a due time in force; it ends at the
    first later event that keeps it, breaks it, or puts another due time of its
    kind in force. Scanned forward from each promise, handoff by handoff.
    """
    histories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in sorted(lines, key=lambda e: e["position"]):
        histories[line["handoff_id"]].append(line)
    found = []
    for history in histories.values():
        if any(e["type"] in ("Reassigned", "Cancelled") for e in history):
            continue
        created = history[0]  # the event's own fields follow the envelope
        made = _made(history)
        for index, promise, due in made:
            end = _end_of(history, made, index, promise)
            record = {
                "agent": created["receiver"],
                "kind": created["kind"],
                "promise": promise,
                "due": due,
                "ended": None,
                "ended_by": None,
                "outcome": None,
            }
            if end is not None:
                at, broken, record["ended_by"] = end
                record["ended"] = at
                record["outcome"] = "broken" if broken else ("kept" if at <= due else "late")
            found.append(record)
    return found


def _made(history: list[dict[str, Any]]) -> list[tuple[int, str, datetime]]:
    """(event index, promise, due) of every promise made: a due time newly in force."""
    made = []
    eta_in_force: datetime | None = None
    for index, event in enumerate(history):
        data = event
        if event["type"] in ("Acked", "StatusReported", "TakenOver") and data.get("eta"):
            eta = when(data["eta"])
            if eta != eta_in_force:
                made.append((index, "eta", eta))
            eta_in_force = eta
        if event["type"] in ("Acked", "StatusReported", "TakenOver", "Replied") and data.get(
            "update_due"
        ):
            made.append((index, "update", when(data["update_due"])))
        if event["type"] in ("Completed", "Failed", "Declined"):
            eta_in_force = None
    return made


def _end_of(
    history: list[dict[str, Any]], made: list[tuple[int, str, datetime]], index: int, kind: str
) -> tuple[datetime, bool, str] | None:
    """When the promise made at ``index`` ended, whether it was broken, and by what."""
    replaced_at = {i for i, k, _ in made if k == kind and i > index}
    for later in range(index + 1, len(history)):
        event = history[later]
        at, kind_of_event = when(event["at"]), event["type"]
        if later in replaced_at:
            return at, False, f"{kind_of_event} (a new {kind})"
        if kind == "eta":
            if kind_of_event in ("Completed", "Failed"):
                return at, False, kind_of_event
            if kind_of_event == "Declined":
                return at, True, kind_of_event
        elif kind_of_event in ("StatusReported", "Completed", "Failed", "Declined", "TakenOver"):
            return at, False, kind_of_event
    return None


def statistics(
    promises: list[dict[str, Any]], now: datetime, since: datetime | None = None
) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """kept %, counts, nearest-rank median and p90 lateness (s) and the 7-day trend."""
    groups: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for p in promises:
        if p["ended"] is not None:
            outcome = p["outcome"]
            lateness = p["ended"] - p["due"] if outcome == "late" else None
            settled = min(p["ended"], p["due"])
        elif p["due"] < now:
            outcome, lateness, settled = "late", now - p["due"], p["due"]
        else:
            continue
        if since is not None and settled < since:
            continue
        g = groups.setdefault(
            (p["agent"], p["kind"], p["promise"]),
            {"kept": 0, "late": 0, "broken": 0, "lateness": [], "days": [[0, 0] for _ in range(7)]},
        )
        g[outcome] += 1
        if lateness is not None:
            g["lateness"].append(lateness.total_seconds())
        for back in range(7):  # day 6 is (now - 24h, now]
            if now - (back + 1) * DAY < settled <= now - back * DAY:
                g["days"][6 - back][0] += 1
                g["days"][6 - back][1] += outcome == "kept"
    for g in groups.values():
        values = sorted(g.pop("lateness"))
        g["counted"] = g["kept"] + g["late"] + g["broken"]
        g["median"] = values[math.ceil(0.5 * len(values)) - 1] if values else None
        g["p90"] = values[math.ceil(len(values) * 9 / 10) - 1] if values else None
    return groups


def shown(entries: list[dict[str, Any]]) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """The product's entries in the oracle's shape."""
    out = {}
    for e in entries:
        out[(e["agent"], e["kind"], e["promise"])] = {
            "kept": e["kept"],
            "late": e["late"],
            "broken": e["broken"],
            "counted": e["counted"],
            "median": e["median_late_seconds"],
            "p90": e["p90_late_seconds"],
            **(
                {"days": [[d["counted"], d["kept"]] for d in e["last_7_days"]]}
                if "last_7_days" in e
                else {}
            ),
        }
        assert e["kept_pct"] == round(100 * e["kept"] / e["counted"], 1)
    return out


# ------------------------------------------------------------------ the test


def test_promise_accuracy_equals_a_count_from_the_log(
    ledger: Ledger, clock: SimulatedClock, store_url: str, tmp_path: Path
) -> None:
    start = clock.now()
    scripted(ledger, clock)
    random_mix(ledger, clock, steps=200, seed=26)
    now = clock.now()
    clock_file = tmp_path / "clock"
    FileClock(clock_file).set(now)

    lines = [json.loads(line) for line in run(store_url, clock_file, "log", "--json").splitlines()]
    promises = promises_from_log(lines)
    expected = statistics(promises, now)

    board = json.loads(run(store_url, clock_file, "agents", "list", "--json"))["agents"]
    got = shown([entry for agent in board for entry in agent["promises"]])
    assert got == expected

    # Every case was met: each outcome, each way a promise ends, open ones on both
    # sides of their due time, handoffs left out, and a trend over several days.
    outcomes = {(p["promise"], p["outcome"]) for p in promises}
    assert outcomes >= {("eta", o) for o in ("kept", "late", "broken")} | {
        ("update", o) for o in ("kept", "late")
    }
    assert {p["ended_by"] for p in promises} >= {
        "Completed", "Failed", "Declined", "StatusReported (a new eta)",
        "StatusReported (a new update)", "Replied (a new update)", "TakenOver (a new update)",
    }  # fmt: skip
    assert any(p["ended"] == p["due"] for p in promises)  # kept at its due time
    still_open = [p["due"] < now for p in promises if p["ended"] is None]
    assert True in still_open
    assert False in still_open
    assert any(e["type"] == "Reassigned" for e in lines)
    assert any(e["type"] == "Cancelled" for e in lines)
    assert now - start > 6 * DAY, "the mix should span most of the trend's week"
    assert sum(1 for g in expected.values() if sum(1 for d in g["days"] if d[0]) >= 3) >= 1

    # At the due time of a promise still open, it is not late yet (due < now is).
    due = min(p["due"] for p in promises if p["ended"] is None and p["due"] > now)
    FileClock(clock_file).set(due)
    board = json.loads(run(store_url, clock_file, "agents", "list", "--json"))["agents"]
    assert shown([e for agent in board for e in agent["promises"]]) == statistics(promises, due)
    assert statistics(promises, due) != statistics(promises, due + timedelta(microseconds=1))
    FileClock(clock_file).set(now)

    since = now - 3 * DAY
    window = json.loads(
        run(store_url, clock_file, "digest", "--since", since.isoformat(), "--json")
    )["promises"]
    expected_window = statistics(promises_from_log(lines), now, since)
    for group in expected_window.values():
        group.pop("days")
    assert shown(window) == expected_window
    counted = sum(g["counted"] for g in expected.values())
    assert 0 < sum(g["counted"] for g in expected_window.values()) < counted  # a real window
