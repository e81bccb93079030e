"""Human-readable output that reads like the protocol messages of the seed article.

``HANDOFF: inbox_monitor → code_agent`` / ``TRIGGER:`` / ``PRIORITY:`` /
``PAYLOAD:`` / ``DEADLINE:`` / ``ESCALATION:`` for a handoff, ``HANDOFF_ACK: ...``
for an acknowledgement. ``--json`` output never goes through this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from handoff_ledger.adapters.ledger.application import LoggedEvent, ProtocolVersion
from handoff_ledger.adapters.services.documents import event_fields, parse_iso
from handoff_ledger.adapters.services.human_times import (
    human_time,
    human_value,
    rough_duration,
)
from handoff_ledger.domain.durations import format_duration
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import HASH_FIELDS

if TYPE_CHECKING:  # rich is imported by the tables and the console that use it: an ack
    # or a --json answer prints no table, and rich costs a process ~20 ms to import.
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "ack_text",
    "event_line",
    "handoff_text",
    "history_text",
    "inbox_table",
    "overdue_table",
    "protocol_text",
    "ref",
]


def ref(handoff: Handoff) -> str:
    """``sender/short-id``, as the article writes ``inbox_monitor/bug_123``."""
    return f"{handoff.sender}/{str(handoff.id)[:8]}"


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "none"
    delta = moment - now
    if delta.total_seconds() >= 1:
        return f"{rough_duration(delta)} ({human_time(moment)})"
    if delta.total_seconds() <= -1:
        return f"{human_time(moment)} ({rough_duration(delta)} ago)"
    return f"now ({human_time(moment)})"


def _deadline(handoff: Handoff, now: datetime) -> str:
    """An open handoff's deadline counts down; a closed one's says whether it was met."""
    if handoff.is_open or handoff.deadline_due is None or handoff.closed_at is None:
        return _when(handoff.deadline_due, now)
    met = "met" if handoff.closed_at <= handoff.deadline_due else "missed"
    return f"{human_time(handoff.deadline_due)} ({met}: closed {human_time(handoff.closed_at)})"


def handoff_text(handoff: Handoff, now: datetime, *, duplicate: bool = False) -> str:
    """The structured handoff block."""
    lines = []
    if duplicate:
        lines.append(f"DUPLICATE: key {handoff.key!r} was already used; this is that handoff")
    lines += [
        f"HANDOFF: {handoff.sender} → {handoff.receiver}",
        f"ID: {handoff.id}",
        f"CHAIN: {handoff.chain_id}"
        + (f" (parent {handoff.parent_id})" if handoff.parent_id else ""),
    ]
    if handoff.kind:
        lines.append(f"KIND: {handoff.kind}")
    lines.append(f"TRIGGER: {handoff.trigger or '-'}")
    lines.append(f"PRIORITY: {handoff.priority}")
    lines.append(f"PAYLOAD: {json.dumps(handoff.payload, indent=2, ensure_ascii=False)}")
    lines.append(f"DEADLINE: {_deadline(handoff, now)}")
    lines.append(f"ESCALATION: {_escalation(handoff)}")
    state = handoff.state.value
    if handoff.status:
        state += (
            f" ({handoff.status}{': ' + handoff.status_message if handoff.status_message else ''})"
        )
    lines.append(f"STATE: {state}")
    if handoff.is_open:
        if handoff.acked_at is None and handoff.ack_due:
            lines.append(f"ACK_DUE: {_when(handoff.ack_due, now)}")
        if handoff.eta:
            lines.append(f"ETA: {_when(handoff.eta, now)}")
        if handoff.update_due:
            lines.append(f"NEXT_UPDATE: {_when(handoff.update_due, now)}")
    if handoff.result is not None:
        lines.append(f"RESULT: {json.dumps(handoff.result, ensure_ascii=False)}")
    if handoff.outcome_reason:
        lines.append(f"REASON: {handoff.outcome_reason}")
    return "\n".join(lines)


def _escalation(handoff: Handoff) -> str:
    if not handoff.escalate_to:
        return "none"
    targets = ", ".join(handoff.escalate_to)
    if handoff.ack_within:
        window = format_duration(timedelta(seconds=handoff.ack_within))
        return f"If no response in {window}, notify {targets}"
    return f"notify {targets} when a promise is missed"


def ack_text(handoff: Handoff, position: int | None, now: datetime, *, recorded: bool) -> str:
    """``HANDOFF_ACK: code_agent received inbox_monitor/1a2b3c4d STATUS: ...``.

    The receipt of an ack just recorded counts its promises from the ack's own time
    (``NEXT_UPDATE: 30m`` as promised, however long the command took to print it); one
    acked before counts them from ``now``, as what is left of them."""
    if recorded and handoff.acked_at is not None:
        now = handoff.acked_at
    verb = "received" if recorded else "had already acked"
    where = f"Added to queue (position {position})" if position else handoff.state.value
    eta = f"Will deliver within {_when(handoff.eta, now)}" if handoff.eta else "not given"
    update = _when(handoff.update_due, now) if handoff.update_due else "none promised"
    return (
        f"HANDOFF_ACK: {handoff.receiver} {verb} {ref(handoff)} STATUS: {where} "
        f"ETA: {eta} NEXT_UPDATE: {update}"
    )


def event_line(event: Handoff.Event, position: int | None = None) -> str:
    """One log or history line: position, time, type, handoff, who, details."""
    fields = event_fields(event)
    details = " ".join(
        f"{k}={_short(v)}"
        for k, v in fields.items()
        if v not in (None, [], {}) and k not in HASH_FIELDS  # hashes: --json and the audit
    )
    prefix = f"#{position:<6} " if position is not None else ""
    return (
        f"{prefix}{human_time(event.timestamp)}  {type(event).__name__:<15} "
        f"{str(event.originator_id)[:8]}  by {event.by}  {details}".rstrip()
    )


def history_text(events: Iterable[Handoff.Event]) -> str:
    """A handoff's events, one line each."""
    return "\n".join("  " + event_line(e) for e in events)


def log_lines(entries: Iterable[LoggedEvent]) -> Iterable[str]:
    """The handoff log, one line per entry."""
    for entry in entries:
        yield event_line(entry.event, entry.position)


def _short(value: Any) -> str:
    text = human_value(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def inbox_table(agent: str, entries: list[dict[str, Any]], now: datetime, total: int) -> Table:
    """An agent's queue (inbox documents), head first."""
    from rich.table import Table

    shown = f" (first {len(entries)} shown)" if total > len(entries) else ""
    table = Table(title=f"Queue of {agent}: {total} open{shown}")
    for column in ("pos", "id", "from", "kind", "priority", "state", "age", "next due"):
        table.add_column(column)
    for entry in entries:
        armed = [(due, reason) for reason, due in entry["timers"].items() if due]
        next_due = min(armed) if armed else None
        created = parse_iso(entry["created_at"])
        table.add_row(
            str(entry["queue_position"]),
            entry["id"],
            entry["sender"],
            entry["kind"] or "-",
            entry["priority"],
            entry["state"],
            rough_duration(now - created) if created else "-",
            f"{next_due[1]} {_when(parse_iso(next_due[0]), now)}" if next_due else "-",
        )
    return table


def overdue_table(entries: list[dict[str, Any]], now: datetime) -> Table:
    """Every broken promise: which handoff, whose, which timer, since when."""
    from rich.table import Table

    table = Table(title=f"Overdue at {human_time(now)}: {len(entries)}")
    for column in ("id", "from → to", "kind", "overdue", "since", "escalated"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry["id"],
            f"{entry['sender']} → {entry['receiver']}",
            entry["kind"] or "-",
            entry["reason"],
            _when(parse_iso(entry["due"]), now),
            f"level {entry['escalated_level']}" if entry["escalated_level"] else "no",
        )
    return table


def protocol_text(current: ProtocolVersion | None) -> str:
    """The protocol in force, with its version and file."""
    if current is None:
        return "PROTOCOL: none applied (free-form handoffs between any agent names)"
    header = (
        f"PROTOCOL: version {current.version} from {current.source} "
        f"(applied {human_time(current.applied_at)} by {current.applied_by}, "
        f"sha256 {current.sha256[:12]})\n"
        f"AGENTS: {', '.join(sorted(current.protocol.agents)) or '-'}\n"
        f"KINDS: {', '.join(sorted(current.protocol.kinds)) or '-'}\n"
    )
    return header + "\n" + current.text


def console() -> Console:
    """A console that never truncates ids: wide enough when output is piped or captured."""
    from rich.console import Console

    interactive = sys.stdout.isatty()
    return Console(width=None if interactive else 240, soft_wrap=not interactive)
