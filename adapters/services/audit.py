"""``handoff audit verify``: recompute every handoff's hash chain from the stored rows.

The events are read straight from the events table in (handoff, version) order,
not through the repository, so a row edited, removed or inserted behind the
ledger's back is seen as it is stored. For each handoff the check walks its
events and reports:

- ``altered``: an event's content no longer matches its own hash (or cannot be
  decoded at all, or lost its hash while the events around it kept theirs);
- ``removed``: a version is missing, or the last event the views saw is gone;
- ``inserted``: an event whose link (``prev_hash``) does not match the event
  before it, or one the views never saw although they are past its position;
- ``guard``: the events table's append-only triggers are missing or disabled.

Events recorded before hash chains existed have no hash; they are counted as
``unsealed`` and checked for their version sequence only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.services.vocabulary import (
    AuditDocument,
)
from handoff_ledger.adapters.store.guard import GuardStatus, guard_incidents, keep_guard
from handoff_ledger.adapters.store.rows import StoredRow, stored_events
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.integrity import SCHEME_V1, SCHEMES, event_digest
from handoff_ledger.projections.chains import HANDOFFS
from handoff_ledger.projections.registry import all_projections

__all__ = ["AuditReport", "Problem", "audit_document", "verify_ledger"]

_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")
_CREATED_TOPIC = HANDOFF_TOPICS[0]

Row = StoredRow


@dataclass(frozen=True)
class Problem:
    """One thing the check found wrong, naming the exact event."""

    handoff_id: str | None
    position: int | None
    version: int | None
    type: str | None
    problem: str
    message: str


@dataclass
class AuditReport:
    """What ``audit verify`` found: counts, the guard's state, every problem."""

    scope: str | None
    guard: GuardStatus
    handoffs: int = 0
    events: int = 0
    unsealed: int = 0
    problems: list[Problem] = field(default_factory=list)
    first_sealed: int | None = field(default=None, repr=False)
    """The log position of the earliest event that carries a hash."""
    unsealed_events: list[tuple[int, str, int, str]] = field(default_factory=list, repr=False)
    """(position, handoff id, version, type) of every event without a hash."""

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def add(
        self,
        problem: str,
        message: str,
        handoff_id: str | None = None,
        position: int | None = None,
        version: int | None = None,
        type_name: str | None = None,
    ) -> None:
        """Record one problem, naming its event as exactly as is known."""
        self.problems.append(Problem(handoff_id, position, version, type_name, problem, message))


def audit_document(report: AuditReport) -> AuditDocument:
    """``audit verify --json``: counts, the guard, every problem with its exact event."""
    return {
        "ok": report.ok,
        "scope": report.scope,
        "handoffs": report.handoffs,
        "events": report.events,
        "unsealed_events": report.unsealed,
        "guard": {
            "table": report.guard.table,
            "installed": report.guard.installed,
            "enabled": report.guard.enabled,
            "detail": report.guard.detail,
        },
        "problems": [
            {
                "problem": p.problem,
                "handoff_id": p.handoff_id,
                "position": p.position,
                "version": p.version,
                "type": p.type,
                "message": p.message,
            }
            for p in report.problems
        ],
    }


def verify_ledger(
    ledger: Ledger,
    handoff_id: UUID | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Check the hash chain of one handoff (``handoff_id``) or of every handoff.

    ``progress`` is called with the number of stored events read, as they are read.
    """
    guard = keep_guard(ledger)  # a broken guard is recorded (reported below), then restored
    report = AuditReport(scope=str(handoff_id) if handoff_id else None, guard=guard)
    for position, incident in guard_incidents(ledger):
        report.add(
            "guard",
            f"events table {incident.table}: found broken at {_iso(incident.timestamp)} "
            f"(recorded at position {position}): {incident.detail}; restored then, but rows "
            "could have been changed while it was off",
            position=position,
        )
    seen = _views_seen(ledger, handoff_id)
    decoder = EventDecoder(ledger.mapper)
    found: set[str] = set()
    for group in _groups(ledger, handoff_id):
        if progress is not None:
            progress(len(group))
        if not any(row[2] in HANDOFF_TOPICS for row in group):
            continue  # a protocol version, a token or a watch: not a handoff
        found.add(group[0][0])
        report.handoffs += 1
        report.events += len(group)
        _check_chain(group, decoder, report)
        _check_against_views(group, seen, report)
    _check_unsealed(report)
    for hid, (last_position, last_event) in seen.rows.items():
        if hid not in found and last_position <= seen.position:
            report.add(
                "removed",
                f"handoff {hid}: every event is gone from the log (the views saw it "
                f"up to position {last_position}, {last_event})",
                hid,
                last_position,
                None,
                last_event,
            )
    if handoff_id is not None and not found and not report.problems:
        raise UnknownHandoff(f"id: no handoff has id {handoff_id}")
    report.problems.sort(key=lambda p: (p.position or 0, p.handoff_id or ""))
    return report


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def _check_unsealed(report: AuditReport) -> None:
    """An event without a hash, recorded after hash chains began, had it stripped."""
    first = report.first_sealed
    if first is None:
        return
    for position, hid, version, name in report.unsealed_events:
        if position > first:
            report.unsealed -= 1
            report.add(
                "altered",
                f"handoff {hid} version {version} ({name}, position {position}) carries "
                f"no hash, though every event since position {first} has one: "
                "it was inserted, or its hash was stripped",
                hid,
                position,
                version,
                name,
            )


_RENUMBER_SEARCH = 8
"""How many versions back ``verify`` looks for an event moved up by inserted ones."""

_UNKNOWN = object()
"""The previous event's hash could not be read: the next link cannot be checked."""


def _check_chain(group: list[Row], decoder: EventDecoder, report: AuditReport) -> None:
    """Walk one handoff's events: versions in sequence, each hash and each link.

    Each problem is reported once, where it is: a gap in the versions is a removal
    (the link after it is not reported again), an event whose content fails its
    hash is an alteration (the next link is checked against its stored hash).
    """
    hid = group[0][0]
    expected_version = 1
    previous_hash: object = None
    walked: dict[int, tuple[int, str]] = {}
    shift = 0
    for originator_id, version, topic, state, position in group:
        name = topic.rpartition(".")[2]
        where = f"handoff {hid} version {version} ({name}, position {position})"
        gap = version != expected_version
        if gap:
            missing = f"{expected_version}" + (
                f"-{version - 1}" if version > expected_version + 1 else ""
            )
            report.add(
                "removed",
                f"handoff {hid}: version {missing} is missing (before position {position})",
                hid,
                position,
                expected_version,
                None,
            )
        expected_version = version + 1
        found = _check_event(decoder, (originator_id, version, topic, state, position))
        walked[version] = (position, name)
        if found.moved_from is not None:
            inserted = version - found.moved_from
            previous_hash = found.hash
            if inserted == shift:
                continue  # the rest of a block moved up together: reported at its start
            shift = inserted
            at_position, at_name = walked.get(found.moved_from, (position, name))
            report.add(
                "inserted",
                f"{where} was recorded as version {found.moved_from}: {inserted} event"
                f"{'s were' if inserted > 1 else ' was'} inserted before it "
                f"(version {found.moved_from}"
                + (f"-{version - 1}" if inserted > 1 else "")
                + " now)",
                hid,
                at_position,
                found.moved_from,
                at_name,
            )
            continue
        if found.problem is not None:
            report.add("altered", found.problem, hid, position, version, name)
        if found.sealed is False:  # recorded before hash chains (or stripped: _check_unsealed)
            report.unsealed += 1
            report.unsealed_events.append((position, hid, version, name))
        elif found.sealed and (report.first_sealed is None or position < report.first_sealed):
            report.first_sealed = position
        if version == 1 and topic != _CREATED_TOPIC:
            report.add("inserted", f"{where}: not a Created event", hid, position, version, name)
        elif (
            found.sealed
            and not gap
            and previous_hash is not _UNKNOWN
            and found.prev_hash != previous_hash
        ):
            report.add(
                "inserted",
                f"{where}: its link does not match the hash of version {version - 1}: "
                "an event was inserted, replaced or rewritten here",
                hid,
                position,
                version,
                name,
            )
        previous_hash = found.hash if found.sealed is not None else _UNKNOWN


@dataclass(frozen=True)
class _Checked:
    """One event's own check: its chain fields, and what is wrong with it if anything.

    ``sealed`` is True for an event with a hash, False for one without, None for one
    that could not be read at all.
    """

    sealed: bool | None
    prev_hash: str | None = None
    hash: str | None = None
    problem: str | None = None
    moved_from: int | None = None
    """The version the event's hash was made for, when it now sits at a later one."""


def _check_event(decoder: EventDecoder, row: Row) -> _Checked:
    """Decode one stored event and recompute its hash."""
    originator_id, version, topic, state, position = row
    name = topic.rpartition(".")[2]
    where = f"handoff {originator_id} version {version} ({name}, position {position})"
    if topic not in HANDOFF_TOPICS:
        return _Checked(None, problem=f"{where}: topic {topic!r} is not a handoff event")
    try:
        event: Any = decoder.decode_entry(topic, originator_id, version, state)
    except Exception as error:  # noqa: BLE001 - any failure to decode is evidence
        return _Checked(None, problem=f"{where}: cannot be decoded ({type(error).__name__})")
    stored_hash = getattr(event, "hash", None)
    if stored_hash is None:
        return _Checked(False, prev_hash=getattr(event, "prev_hash", None))
    data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    if data.get("scheme", SCHEME_V1) not in SCHEMES:
        return _Checked(
            True, event.prev_hash, stored_hash, f"{where}: names an unknown hash scheme"
        )

    def digest(at_version: int) -> str:
        return event_digest(
            type_name=name,
            handoff_id=event.originator_id,
            version=at_version,
            at=event.timestamp,
            prev_hash=event.prev_hash,
            data=data,
        )

    if digest(version) == stored_hash:
        return _Checked(True, event.prev_hash, stored_hash)
    # Renumbered to make room for inserted events? Its hash still names its old version.
    for earlier in range(version - 1, max(0, version - _RENUMBER_SEARCH) - 1, -1):
        if earlier >= 1 and digest(earlier) == stored_hash:
            return _Checked(True, event.prev_hash, stored_hash, moved_from=earlier)
    return _Checked(
        True, event.prev_hash, stored_hash, f"{where}: its content does not match its hash"
    )


@dataclass
class _Seen:
    """What the chains view saw of each handoff, and how far the view has read."""

    position: int
    rows: dict[str, tuple[int, str]]


def _views_seen(ledger: Ledger, handoff_id: UUID | None) -> _Seen:
    """The chains view's last position per handoff (read only; never advanced here)."""
    views = Views(ledger, [p for p in all_projections() if p.name == "chains"])
    position = views.store.positions(["chains"])["chains"]
    where, params = ("", []) if handoff_id is None else (" WHERE handoff_id = ?", [str(handoff_id)])
    rows = views.store.query(
        f"SELECT handoff_id, last_position, last_event FROM {views.store.table(HANDOFFS)}{where}",
        params,
    )
    return _Seen(
        position, {r["handoff_id"]: (int(r["last_position"]), r["last_event"]) for r in rows}
    )


def _check_against_views(group: list[Row], seen: _Seen, report: AuditReport) -> None:
    """Catch what a hash chain alone cannot: the tail removed, or a forged tail added."""
    hid = group[0][0]
    known = seen.rows.get(hid)
    if known is None:
        return
    last_position, last_event = known
    if last_position <= seen.position and last_position not in {row[4] for row in group}:
        report.add(
            "removed",
            f"handoff {hid}: its event at position {last_position} ({last_event}), the "
            "last one the views saw, is gone from the log",
            hid,
            last_position,
            None,
            last_event,
        )
    for _id, version, topic, _state, position in group:
        if last_position < position <= seen.position:
            name = topic.rpartition(".")[2]
            report.add(
                "inserted",
                f"handoff {hid} version {version} ({name}, position {position}): the "
                "views read the log past it and never saw it: inserted afterwards",
                hid,
                position,
                version,
                name,
            )


def _groups(ledger: Ledger, handoff_id: UUID | None) -> Iterator[list[Row]]:
    """Every aggregate's stored events, one list per aggregate, in version order."""
    group: list[Row] = []
    for row in stored_events(ledger, handoff_id):
        if group and row[0] != group[0][0]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group
