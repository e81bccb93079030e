"""The JSON documents every interface returns: a handoff, a log entry, an error.

The CLI prints these with ``--json``, and the HTTP API and MCP tools return the
same shapes, so a script written against one interface reads the others.
Times are ISO 8601 in UTC. In a handoff document durations are written the way users
type them (``1h30m``); in log entries they are the events' own fields, in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, cast
from uuid import UUID

from handoff_ledger.adapters.ledger.application import LoggedEvent, ProtocolVersion
from handoff_ledger.adapters.services.vocabulary import (
    Document,
    ErrorBody,
    ErrorDocument,
    HandoffDocument,
    HistoryEntry,
    LogEntry,
    OverdueTimer,
    ProtocolDocument,
    Timers,
)
from handoff_ledger.domain.durations import format_duration
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import HASH_FIELDS
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.projections.base import from_us

__all__ = [
    "RENDER_DEPTH",
    "TIMER_FIELDS",
    "UNREADABLE",
    "armed_timers",
    "error_document",
    "event_fields",
    "handoff_document",
    "history_entry",
    "iso",
    "jsonable",
    "log_entry",
    "overdue_timers",
    "parse_iso",
    "protocol_document",
    "timer_fields",
    "too_deep",
    "view_document",
]

_ENVELOPE = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "by",
    "chain_id",
}


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    """Read back a time a document holds (written by :func:`iso`); None stays None."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


RENDER_DEPTH = 128
"""The deepest JSON value a document shows (pydantic's encoder stops near 255 levels).

Commands are refused past ``domain.rules.MAX_JSON_DEPTH`` (32), but events recorded
before that cap may nest deeper, and events are forever. A reader shows such an
event with its envelope and an ``unreadable`` reason instead of its fields (a
handoff: ``payload``/``result`` null, named in ``unreadable``), and goes on past it.
"""

UNREADABLE = (
    f"nested more than {RENDER_DEPTH} levels deep: shown without its fields"
    " (the event is intact in the store; audit verify checks it)"
)


def too_deep(value: object, limit: int = RENDER_DEPTH) -> bool:
    """Whether ``value`` nests more than ``limit`` objects or arrays (iteratively)."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth >= limit:
                return True
            pending.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list | tuple):
            if depth >= limit:
                return True
            pending.extend((inner, depth + 1) for inner in item)
    return False


def jsonable(value: Any) -> Any:
    """Turn event and aggregate values into plain JSON values."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def handoff_document(handoff: Handoff) -> HandoffDocument:
    """One handoff as it stands: identity, route, payload, state, timers."""
    document: HandoffDocument = {
        "id": str(handoff.id),
        "chain_id": str(handoff.chain_id),
        "parent_id": jsonable(handoff.parent_id),
        "kind": handoff.kind,
        "trigger": handoff.trigger,
        "sender": handoff.sender,
        "receiver": handoff.receiver,
        "priority": handoff.priority,
        "payload": handoff.payload,
        "state": handoff.state.value,
        "status": handoff.status,
        "status_message": handoff.status_message,
        "created_at": iso(handoff.created_on),
        "acked_at": iso(handoff.acked_at),
        "eta": iso(handoff.eta),
        "closed_at": iso(handoff.closed_at),
        "result": handoff.result,
        "reason": handoff.outcome_reason,
        "ack_within": _seconds(handoff.ack_within),
        "update_every": _seconds(handoff.update_every),
        "deadline": iso(handoff.deadline_due),
        "timers": armed_timers(handoff),
        "escalate_to": list(handoff.escalate_to),
        "escalations": handoff.escalation_count,
        "key": handoff.key,
        "protocol_version": handoff.protocol_version,
        "version": handoff.version,
        "updated_at": iso(handoff.modified_on),
    }
    unreadable = []
    if too_deep(document["payload"]):
        document["payload"] = None
        unreadable.append("payload")
    if too_deep(document["result"]):
        document["result"] = None
        unreadable.append("result")
    if unreadable:
        document["unreadable"] = unreadable
    return document


TIMER_FIELDS: dict[EscalationReason, str] = {
    EscalationReason.ACK_TIMEOUT: "ack_due",
    EscalationReason.UPDATE_OVERDUE: "update_due",
    EscalationReason.DEADLINE_MISSED: "deadline",
}
"""Each timer's field in a document's ``timers``, in the order documents list them."""


def timer_fields(due: Mapping[str, str | None]) -> Timers:
    """A document's ``timers`` from each armed timer's due time, keyed by its reason."""
    return cast(Timers, {field: due.get(reason.value) for reason, field in TIMER_FIELDS.items()})


def armed_timers(handoff: Handoff) -> Timers:
    """The promises still being watched (all None once the handoff is closed)."""
    return timer_fields({t.reason.value: iso(t.due) for t in handoff.timers()})


def overdue_timers(handoff: Handoff, now: datetime) -> list[OverdueTimer]:
    """The broken promises at ``now``: ``[{"reason": ..., "due": ...}]``."""
    return [{"reason": t.reason.value, "due": iso(t.due)} for t in handoff.due_timers(now)]


def event_fields(event: Handoff.Event) -> dict[str, Any]:
    """An event's own fields (everything but the envelope), as JSON values.

    The hash chain's fields (``prev_hash``, ``hash``) come last, and only on events
    that carry them (those recorded before hash chains existed do not).
    """
    own = vars(event)
    fields = {k: jsonable(v) for k, v in own.items() if k not in _ENVELOPE and k not in HASH_FIELDS}
    for name in ("prev_hash", "hash"):  # the scheme is the export's and the audit's business
        if name in own:
            fields[name] = own[name]
    return fields


def history_entry(event: Handoff.Event) -> HistoryEntry:
    """One event of a handoff's history: when, what, who, and its fields.

    An event too deep to show (:data:`RENDER_DEPTH`) keeps its envelope and says why.
    """
    envelope: Document = {
        "at": iso(event.timestamp),
        "type": type(event).__name__,
        "handoff_id": str(event.originator_id),
        "chain_id": str(event.chain_id),
        "by": event.by,
        "version": event.originator_version,
    }
    if too_deep(vars(event)):
        envelope["unreadable"] = UNREADABLE
    else:
        envelope.update(event_fields(event))
    return cast(HistoryEntry, envelope)  # the event's own fields follow the envelope


def log_entry(logged: LoggedEvent) -> LogEntry:
    """One line of ``handoff log --json``: a history entry with its log position."""
    return {"position": logged.position, **history_entry(logged.event)}


def protocol_document(current: ProtocolVersion | None) -> ProtocolDocument:
    """The protocol in force (or the absence of one)."""
    if current is None:
        return {"version": None, "agents": [], "kinds": [], "free_form": True}
    return {
        "version": current.version,
        "name": current.protocol.name,
        "source": current.source,
        "sha256": current.sha256,
        "applied_at": iso(current.applied_at),
        "applied_by": current.applied_by,
        "agents": sorted(current.protocol.agents),
        "kinds": sorted(current.protocol.kinds),
        "free_form": False,
        "text": current.text,
    }


def error_document(error: HandoffError) -> ErrorDocument:
    """``{"error": {"code": ..., "message": ...}}`` (plus ``field``/``line`` when known)."""
    body: ErrorBody = {"code": error.code, "message": error.message}
    field, line = getattr(error, "field", None), getattr(error, "line", None)
    if field:
        body["field"] = field
    if line:
        body["line"] = line
    return {"error": body}


def _seconds(value: float | None) -> str | None:
    return format_duration(timedelta(seconds=value)) if value else None


_TIME_COLUMNS = {
    "created_us": "created_at",
    "acked_us": "acked_at",
    "closed_us": "closed_at",
    "status_us": "status_at",
    "last_event_us": "last_event_at",
    "last_escalation_us": "last_escalation_at",
    "last_seen_us": "last_seen_at",
    "oldest_open_us": "oldest_open_at",
    "at_us": "at",
    "due_us": "due",
    "ack_due_us": "ack_due",
    "update_due_us": "update_due",
    "deadline_us": "deadline",
    "eta_us": "eta",
    "completed_us": "completed_at",
    "made_us": "made_at",
    "ended_us": "ended_at",
}
_DROPPED = {"neg_rank", "last_position"}


def view_document(row: Mapping[str, Any]) -> Document:
    """A view row as JSON: ``handoff_id`` → ``id``, ``*_us`` → ISO 8601 times."""
    document: Document = {}
    for key, value in row.items():
        if key in _DROPPED:
            continue
        if key in _TIME_COLUMNS:
            document[_TIME_COLUMNS[key]] = iso(from_us(value))
        elif key == "handoff_id":
            document["id"] = value
        elif key == "late_us":
            document["late_seconds"] = None if value is None else value / 1e6
        elif key in ("detail", "result") and isinstance(value, str):
            document[key] = _json_column(value)
            if document[key] is None and value != "null":
                document["unreadable"] = UNREADABLE
        else:
            document[key] = value
    return document


def _json_column(text: str) -> Any:
    """A view's JSON column, or None when it nests too deep to show."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None
    return None if too_deep(value) else value
