"""The what-if's answers: the difference as one JSON document written as it is found,
and the text summary with the first differences.

``--json`` (and ``POST /protocol/simulate``) stream ``{"since", "until",
"candidate_version", "differences": [...], "summary", "events_read", "peak_open"}``: the
differences are written one by one while the log is read, so neither the process nor
the client holds the whole difference; ``summary`` comes last, once it is known.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.simulate import Difference, Simulation
from handoff_ledger.adapters.services.vocabulary import SimulationSummary

__all__ = ["simulation_chunks", "simulation_lines", "summary_document"]

FIRST = 20
"""How many differences the text form lists (the JSON form has them all)."""


def summary_document(simulation: Simulation) -> SimulationSummary:
    """What the run found, counted by kind of difference (after the run)."""
    return {
        "differences": sum(simulation.summary.values()),
        "by_kind": dict(sorted(simulation.summary.items())),
        "events_read": simulation.events_read,
        "peak_open": simulation.peak_open,
    }


def simulation_chunks(simulation: Simulation) -> Iterator[str]:
    """One JSON document (``SimulationDocument``), in pieces, differences as found."""
    head = {
        "since": iso(simulation.since),
        "until": iso(simulation.until),
        "candidate_version": simulation.candidate_version,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "differences": ['
    for index, difference in enumerate(simulation):
        yield ("" if index == 0 else ", ") + json.dumps(difference, ensure_ascii=False)
    yield '], "summary": ' + json.dumps(summary_document(simulation)) + "}\n"


def simulation_lines(simulation: Simulation, first: int = FIRST) -> Iterator[str]:
    """The text form: a line per difference for the first ``first``, then the summary."""
    yield (
        f"SIMULATION: candidate protocol (as version {simulation.candidate_version}) over "
        f"{iso(simulation.since)} → {iso(simulation.until)}"
    )
    shown = 0
    for difference in simulation:
        if shown < first:
            yield "  " + difference_line(difference)
        shown += 1
    if shown > first:
        yield f"  … and {shown - first} more (--json lists them all)"
    summary = summary_document(simulation)
    if not summary["differences"]:
        yield "NO DIFFERENCE: the candidate would have done exactly what the log records"
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in summary["by_kind"].items())
        yield f"DIFFERENCES: {summary['differences']} ({counts})"
    yield f"READ: {summary['events_read']} events, at most {summary['peak_open']} open at once"


def difference_line(difference: Difference) -> str:
    """One difference as one line of text."""
    kind = difference["difference"]
    short = str(difference.get("handoff_id") or difference.get("parent_id", ""))[:8]
    if kind.startswith("escalation_"):
        sign = "+" if kind.endswith("added") else "-"
        return (
            f"{sign} ESCALATION {short} {difference['kind'] or '-'}: {difference['reason']} "
            f"level {difference['level']}"
            + (f" repeat {difference['repeat']}" if difference["repeat"] else "")
            + f" → {', '.join(difference['notified'])} ({difference['action']}, "
            f"due {difference['timer_due']})"
        )
    if kind.startswith("reassignment_"):
        sign = "+" if kind.endswith("added") else "-"
        return f"{sign} REASSIGNED {short}: {difference['from']} → {difference['to']}"
    if kind == "refused":
        where = f" [{difference['field']}]" if difference.get("field") else ""
        return (
            f"! REFUSED {short} {difference['action']} by {difference['by']} at "
            f"{difference['at']}{where}: {difference['message']} (chain not simulated further)"
        )
    recorded = difference.get("recorded") or {}
    simulated = difference.get("simulated") or {}
    return (
        f"~ FOLLOW-UP of {short}: {kind.removeprefix('follow_up_')}: recorded "
        f"{recorded.get('kind', '-')} → {recorded.get('to', '-')}, simulated "
        f"{simulated.get('kind', '-')} → {simulated.get('to', '-')}"
        + (f" ({difference['message']})" if difference.get("message") else "")
    )
