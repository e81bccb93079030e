"""Promise accuracy: kept %, lateness and a 7-day trend per agent, kind and promise.

The agents view stores each promise and, once judged, its outcome
(:mod:`handoff_ledger.projections.promises`). What it cannot store is "now": an open
promise past due counts as late, by how far past due it is at the reader's time.
So the statistics are computed here, at read time, from the rows and a clock:

- a promise **counts** once judged (ended) or once past due while open
  (``due < now``); an open promise not yet due does not count yet;
- it **counts on** the moment its outcome was settled: when it ended if that was
  at or before its due time, else its due time (it was late from then on). The
  7-day trend and the digest's window select promises by that moment;
- **kept %** is kept / counted; ``late`` are the ended-late and open-past-due ones;
  ``broken`` the ETAs a decline ended;
- **median** and **p90 lateness** are over the late ones only (how late, when
  late), by nearest rank: the value at position ⌈p·n⌉ of the sorted latenesses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from handoff_ledger.adapters.services.documents import iso, view_document
from handoff_ledger.adapters.services.vocabulary import (
    Document,
    PromiseAccuracy,
    PromiseDay,
    SuggestedEta,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.durations import format_duration
from handoff_ledger.projections.base import from_us
from handoff_ledger.projections.promises import ETA, UPDATE

__all__ = [
    "SUGGEST_FROM",
    "SUGGEST_MIN",
    "TREND_DAYS",
    "accuracy",
    "agents_board",
    "kept_summary",
    "nearest_rank",
    "settled",
    "suggested_eta",
    "summary_text",
    "with_promises",
]

TREND_DAYS = 7
DAY_US = 86_400_000_000
SUGGEST_FROM = 20
"""``ack`` suggests an ETA from the agent's last this many completed handoffs of the kind."""
SUGGEST_MIN = 3
"""...and only when it has completed at least this many."""

Row = Mapping[str, Any]
Labels = Callable[[str, str | None], tuple[str, str | None]]


def settled(row: Row, now_us: int) -> tuple[str, int | None, int] | None:
    """A promise's (outcome, lateness µs, moment settled) at ``now_us``; None if it
    does not count yet (open and not past due)."""
    due, ended = int(row["due_us"]), row["ended_us"]
    if ended is not None:
        return str(row["outcome"]), row["late_us"], min(int(ended), due)
    if due < now_us:
        return "late", now_us - due, due
    return None


def nearest_rank(ordered: list[int], percent: int) -> int | None:
    """The value at rank ⌈percent/100 · n⌉ of sorted ``ordered`` (None if empty)."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass
class _Group:
    counts: Counter[str] = field(default_factory=Counter)
    lateness: list[int] = field(default_factory=list)
    days: list[Counter[str]] = field(default_factory=list)


def accuracy(
    rows: Iterable[Row],
    now_us: int,
    *,
    since_us: int | None = None,
    trend: bool = False,
    labels: Labels | None = None,
) -> list[PromiseAccuracy]:
    """Per (agent, kind, promise), sorted: what counted by ``now_us`` (and settled at
    or after ``since_us``), with the last 7 days' kept % when ``trend``.

    ``labels`` maps (agent, kind) to the labels to group by (``/metrics`` folds
    undeclared names into ``other``).
    """
    groups: dict[tuple[str, str | None, str], _Group] = {}
    for row in rows:
        judged = settled(row, now_us)
        if judged is None:
            continue
        outcome, late_us, at = judged
        if since_us is not None and at < since_us:
            continue
        agent, kind = str(row["agent"]), row["kind"]
        if labels is not None:
            agent, kind = labels(agent, kind)
        group = groups.setdefault((agent, kind, str(row["promise"])), _Group())
        group.counts[outcome] += 1
        if outcome == "late" and late_us is not None:
            group.lateness.append(int(late_us))
        if trend:
            if not group.days:
                group.days = [Counter() for _ in range(TREND_DAYS)]
            back = (now_us - at) // DAY_US  # 0: (now - 24 h, now]
            if at <= now_us and back < TREND_DAYS:
                day = group.days[TREND_DAYS - 1 - back]
                day["counted"] += 1
                day["kept"] += outcome == "kept"
    entries: list[PromiseAccuracy] = []
    for (agent, kind, promise), group in sorted(groups.items(), key=_order):
        entry = _entry(agent, kind, promise, group)
        if trend:
            entry["last_7_days"] = _days(group, now_us)
        entries.append(entry)
    return entries


def _order(item: tuple[tuple[str, str | None, str], _Group]) -> tuple[str, str, str]:
    (agent, kind, promise), _ = item
    return agent, kind or "", promise


def _entry(agent: str, kind: str | None, promise: str, group: _Group) -> PromiseAccuracy:
    counted = sum(group.counts.values())
    ordered = sorted(group.lateness)
    median, p90 = nearest_rank(ordered, 50), nearest_rank(ordered, 90)
    return {
        "agent": agent,
        "kind": kind,
        "promise": promise,
        "counted": counted,
        "kept": group.counts["kept"],
        "late": group.counts["late"],
        "broken": group.counts["broken"],
        "kept_pct": _pct(group.counts["kept"], counted),
        "median_late_seconds": None if median is None else median / 1e6,
        "p90_late_seconds": None if p90 is None else p90 / 1e6,
    }


def _days(group: _Group, now_us: int) -> list[PromiseDay]:
    days = group.days or [Counter() for _ in range(TREND_DAYS)]
    return [
        {
            "until": iso(from_us(now_us - (TREND_DAYS - 1 - index) * DAY_US)),
            "counted": day["counted"],
            "kept": day["kept"],
            "kept_pct": _pct(day["kept"], day["counted"]),
        }
        for index, day in enumerate(days)
    ]


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def kept_summary(entries: Iterable[PromiseAccuracy]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per agent and promise (``eta``, ``update``), over every kind: kept, counted, kept %."""
    totals: dict[str, dict[str, list[int]]] = {}
    for entry in entries:
        into = totals.setdefault(entry["agent"], {}).setdefault(entry["promise"], [0, 0])
        into[0] += entry["kept"]
        into[1] += entry["counted"]
    return {
        agent: {
            promise: {"kept": kept, "counted": counted, "kept_pct": _pct(kept, counted)}
            for promise, (kept, counted) in sorted(by_promise.items())
        }
        for agent, by_promise in sorted(totals.items())
    }


def summary_text(by_promise: Mapping[str, Mapping[str, Any]]) -> str:
    """``ETAs 62% (5 of 8), updates 90% (9 of 10)`` or ``-``."""
    names = {ETA: "ETAs", UPDATE: "updates"}
    parts = [
        f"{names[promise]} {_percent(s['kept_pct'])} ({s['kept']} of {s['counted']})"
        for promise, s in by_promise.items()
        if promise in names
    ]
    return ", ".join(parts) or "-"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


def suggested_eta(durations_us: list[int], kind: str | None) -> SuggestedEta | None:
    """The median time from ack to completion of the agent's last completed handoffs of
    ``kind`` (newest first, at most :data:`SUGGEST_FROM`); None below :data:`SUGGEST_MIN`."""
    if len(durations_us) < SUGGEST_MIN:
        return None
    median = nearest_rank(sorted(durations_us), 50)
    assert median is not None
    seconds = -(-median // 60_000_000) * 60  # whole minutes, rounded up
    return {
        "eta": format_duration(timedelta(seconds=seconds)),
        "seconds": seconds,
        "kind": kind,
        "from_handoffs": len(durations_us),
        "basis": "median time from ack to completion",
    }


def with_promises(board: Iterable[Row], promises: Iterable[Row], now_us: int) -> list[Document]:
    """The agent board's rows as documents, each with its promise accuracy (with the
    7-day trend) under ``promises``."""
    by_agent: dict[str, list[PromiseAccuracy]] = {}
    for entry in accuracy(promises, now_us, trend=True):
        by_agent.setdefault(entry["agent"], []).append(entry)
    return [{**view_document(row), "promises": by_agent.get(row["agent"], [])} for row in board]


def agents_board(views: Views, now_us: int) -> list[Document]:
    """``agents list``: every agent's row of the (caught-up) view, with its promises."""
    return with_promises(views.read.agents(), views.read.promises(now_us), now_us)
