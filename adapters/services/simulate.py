"""What if: the recorded history replayed in memory under a candidate protocol.

``handoff protocol simulate FILE --since T``. The agents' recorded actions (sends, acks,
status reports, replies, completions, failures, declines, cancellations, reassignments,
manual escalations, notes) are replayed at their recorded times on in-memory
``Handoff`` aggregates, through the same domain commands and the same send resolution
(``domain/sending.py``) a live ledger runs; what the reactor did (escalations, its
reassignments, follow-ups) is not replayed but recomputed with the reactor's own
decision code: ``Handoff.next_step`` and ``fire_escalation`` under the escalation
policy, ``follow_up_route``, ``follow_up_receiver`` and ``map_payload``. Nothing is
saved: the aggregates live in memory and their events are dropped once compared.

When a step fires. The live reactor is late by however long its pass took; the
simulated one mirrors that where the two runs agree: a step the recorded handoff also
had pending (same timer, same level and repeat) fires when the recorded one did, and a
follow-up the recorded run also created is created when it was. A step only the
candidate has fires at its due time (a reactor that never sleeps). So simulating the
protocol in force reproduces the log exactly and reports no difference.

Defaults. A recorded value equal to its kind's value in the protocol version the
handoff was created under counts as that kind's default, so the candidate's default
applies; any other value was given explicitly and stays. Handoffs created before
``since`` keep their version (and its policy); those created in the window are created
under the candidate.

A recorded action the candidate's rules refuse is dropped and reported as its chain's
divergence; that chain is not simulated further. Memory holds the handoffs open at the
point reached (and the follow-ups owed), never the whole log.

What it costs (issue 26: a 100,000-event log in 5 s). The log is read as stored rows
(``store.rows.log_rows``) and decoded by the views' decoder; a recorded handoff is
folded in full only before the window (one open at its start is copied into the
simulation), then as its ``Outline``; simulated handoffs are neither hashed nor
checked against the storage limits, and their events skip the dataclass ``__init__``.

Why this module is long (over 400 lines): one replay is one state machine whose parts
share its state (the followed handoffs, the follow-ups owed, the chains dropped), and
each recorded event type's replay sits beside the others so a reader sees that every
type of the log is handled; the answers it produces are built in ``simulation_report``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.adapters.services.follow_ups import (
    FOLLOW_UP_KEY_PREFIX,
    ClosingEvent,
    follow_up_key,
    follow_up_receiver,
    follow_up_route,
    map_payload,
)
from handoff_ledger.adapters.services.reactor import REACTOR
from handoff_ledger.adapters.services.vocabulary import Document
from handoff_ledger.adapters.store.rows import log_rows
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.domain.errors import HandoffError, PayloadInvalid
from handoff_ledger.domain.escalation import EscalationPolicy, Step
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.outline import Outline
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.protocol import FollowUp, KindSpec, Protocol
from handoff_ledger.domain.sending import resolve_send
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.timers import EscalationReason, Timer

__all__ = ["Simulation"]

Difference = Document
_CLOSING = (Handoff.Completed, Handoff.Declined, Handoff.Failed)


@dataclass
class _Track:
    """One recorded handoff followed side by side with its simulated counterpart."""

    recorded: Handoff | Outline
    """Folded in full before the window (to be copied into the simulation when the
    window opens), then only its outline."""
    chain_id: UUID
    stored_id: str
    """Its id as the store writes it (``log_rows``): its rows are skipped undecoded
    once its chain is dropped."""
    sim: Handoff | None = None
    recorded_steps: list[tuple[Any, ...]] = field(default_factory=list)
    sim_steps: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class _Owed:
    """A follow-up the simulated reactor owes: its route and the closed handoff."""

    route: FollowUp
    chain_id: UUID
    parent: Handoff
    event: ClosingEvent
    recorded_route: tuple[str, str | None] | None


class Simulation:
    """One what-if run: iterate it for the differences, then read ``summary``."""

    def __init__(
        self,
        ledger: Ledger,
        candidate: Protocol,
        since: datetime,
        until: datetime | None = None,
    ) -> None:
        self.ledger = ledger
        self.candidate = candidate
        self.since = since
        self.until = until or ledger.clock.now()
        current = ledger.protocol_in_force()
        self.candidate_version = (current.version if current else 0) + 1
        self.summary: Counter[str] = Counter()
        self.events_read = 0
        self.peak_open = 0
        self._tracks: dict[UUID, _Track] = {}
        self._owed: dict[UUID, _Owed] = {}
        self._diverged: set[UUID] = set()
        self._dropped: set[str] = set()
        """The stored ids of the handoffs of the chains dropped (see ``_Track``)."""
        self._in_window = False
        self._policies: dict[tuple[int | None, str | None], EscalationPolicy] = {}

    # ------------------------------------------------------------------ the run

    def __iter__(self) -> Iterator[Difference]:
        """Replay the log up to ``until``; yield each difference as soon as it is known."""
        decode = EventDecoder(self.ledger.mapper).decode_entry  # the mapper's events, faster
        until, dropped = self.until, self._dropped
        for _position, topic, stored_id, version, state in log_rows(self.ledger, HANDOFF_TOPICS):
            if stored_id in dropped:
                self.events_read += 1  # of a chain no longer simulated: not even decoded
                continue
            event = decode(topic, stored_id, version, state)
            if event.timestamp > until:
                continue  # log order is not time order: later entries may be earlier
            self.events_read += 1
            if not self._in_window and event.timestamp >= self.since:
                self._enter_window()
            yield from self._take(event, stored_id)
            if len(self._tracks) > self.peak_open:
                self.peak_open = len(self._tracks)
        if not self._in_window:
            self._enter_window()
        for handoff_id in list(self._tracks):
            track = self._tracks.pop(handoff_id)
            self._fire_due(track, self.until)
            yield from self._compare(handoff_id, track)
        yield from self._owed_at_end()

    def _enter_window(self) -> None:
        self._in_window = True
        for track in self._tracks.values():
            assert isinstance(track.recorded, Handoff)
            track.sim = copy.deepcopy(track.recorded)
            track.sim.hashed = False  # never stored: no hash chain to keep
            track.recorded = Outline.of(track.recorded)

    def _take(self, event: Handoff.Event, stored_id: str) -> Iterator[Difference]:
        handoff_id = event.originator_id
        if event.chain_id in self._diverged:
            self._dropped.add(stored_id)  # a handoff created in a dropped chain
            return
        if isinstance(event, Handoff.Created):
            yield from self._created(event, stored_id)
            return
        track = self._tracks.get(handoff_id)
        if track is None:
            return  # closed before (a note on a closed handoff), or not followed
        if track.sim is None:
            # Before the window, or a recorded handoff the candidate has no counterpart
            # of (a follow-up it would not route): only the recorded side moves.
            self._fold(track, event)
            if self._in_window:
                self._note_reactor(track, event)
        elif _is_reactor(event):
            self._reactor_event(track, event)
        else:
            self._fire_due(track, event.timestamp)
            yield from self._agent_event(track, event)
        if handoff_id in self._tracks and not track.recorded.is_open:
            self._tracks.pop(handoff_id)
            if self._in_window:
                yield from self._compare(handoff_id, track)

    # ------------------------------------------------------------------ creation

    def _created(self, event: Handoff.Created, stored_id: str) -> Iterator[Difference]:
        recorded = Outline(event) if self._in_window else self._apply(None, event)
        track = _Track(recorded=recorded, chain_id=event.chain_id, stored_id=stored_id)
        self._tracks[event.originator_id] = track
        if not self._in_window:
            return
        is_follow_up = (
            event.parent_id is not None
            and event.key is not None
            and event.key.startswith(FOLLOW_UP_KEY_PREFIX)
        )
        if is_follow_up:
            assert event.parent_id is not None
            yield from self._recorded_follow_up(track, event.parent_id, event)
            return
        try:
            track.sim = self._send_as_recorded(event)
        except HandoffError as error:
            yield from self._diverge(track, event, error)

    def _send_as_recorded(self, event: Handoff.Created) -> Handoff:
        """The recorded send, made under the candidate: given values kept, defaults not."""
        spec = self._spec(event.protocol_version, event.kind)

        def given(value: Any, default: Any) -> Any:
            return None if spec is not None and value == default else value

        ack_within = _seconds(event.ack_within)
        deadline: timedelta | datetime | None = _seconds(event.deadline_within)
        if deadline is None:
            deadline = event.deadline_due
        parent = None
        if event.parent_id is not None:
            parent_track = self._tracks.get(event.parent_id)
            parent = parent_track.sim if parent_track else None
        resolved = resolve_send(
            self.candidate,
            sender=event.sender,
            to=given(event.receiver, spec.to if spec else None),
            kind=event.kind,
            trigger=given(event.trigger, spec.trigger if spec else None),
            priority=given(Priority(event.priority), spec.priority if spec else None),
            payload=event.payload,
            ack_within=given(ack_within, spec.ack_within if spec else None),
            deadline=given(deadline, spec.deadline if spec else None),
            escalate_to=given(list(event.escalate_to), list(spec.escalate_to) if spec else None)
            or None,
        )
        return self._request(
            resolved, event.sender, event.timestamp, event.key, parent, event.originator_id
        )

    def _request(
        self,
        resolved: Any,
        sender: str,
        now: datetime,
        key: str | None,
        parent: Handoff | None,
        handoff_id: UUID | None = None,
    ) -> Handoff:
        deadline = resolved.deadline
        handoff = Handoff.request(
            now=now,
            sender=sender,
            receiver=resolved.to,
            priority=resolved.priority,
            payload=resolved.payload,
            kind=resolved.kind,
            trigger=resolved.trigger,
            ack_within=resolved.ack_within,
            deadline=deadline if isinstance(deadline, datetime) else None,
            deadline_within=deadline if isinstance(deadline, timedelta) else None,
            escalate_to=resolved.escalate_to,
            key=key,
            parent=parent,
            protocol_version=self.candidate_version,
            hashed=False,  # never stored: no hash chain to keep
            handoff_id=handoff_id,  # the recorded one's (a key fixes it all the same)
        )
        handoff.collect_events()
        return handoff

    # ------------------------------------------------------------------ follow-ups

    def _closed(self, track: _Track, event: ClosingEvent) -> None:
        """The simulated reactor owes the follow-up its protocol routes, if any."""
        sim = track.sim
        assert sim is not None
        route = follow_up_route(self._spec(sim.protocol_version, sim.kind), event)
        if route is None:
            return
        recorded_spec = self._spec(track.recorded.protocol_version, track.recorded.kind)
        recorded = follow_up_route(recorded_spec, event)
        recorded_route = None
        if recorded is not None:
            recorded_route = (recorded.kind, follow_up_receiver(recorded, track.recorded, event))
        self._owed[track.recorded.id] = _Owed(route, track.chain_id, sim, event, recorded_route)

    def _recorded_follow_up(
        self, track: _Track, parent_id: UUID, event: Handoff.Created
    ) -> Iterator[Difference]:
        owed = self._owed.pop(parent_id, None)
        recorded = {"kind": event.kind, "to": event.receiver}
        if owed is None:
            self.summary["follow_up_removed"] += 1
            yield {
                "difference": "follow_up_removed",
                "parent_id": str(parent_id),
                "chain_id": str(track.chain_id),
                "recorded": recorded,
            }
            track.recorded_steps = []
            return
        parent = owed.parent
        try:
            resolved = resolve_send(
                self.candidate,
                sender=parent.receiver,
                to=follow_up_receiver(owed.route, parent, owed.event),
                kind=owed.route.kind,
                priority=owed.route.priority,
                payload=map_payload(owed.route, parent),
            )
        except HandoffError as error:
            self.summary["follow_up_refused"] += 1
            yield {
                "difference": "follow_up_refused",
                "parent_id": str(parent_id),
                "chain_id": str(track.chain_id),
                "recorded": recorded,
                **_error_fields(error),
            }
            return
        key = follow_up_key(parent.id, owed.event.originator_version)
        track.sim = self._request(resolved, parent.receiver, event.timestamp, key, parent)
        simulated = {"kind": track.sim.kind, "to": track.sim.receiver}
        if simulated != recorded:
            self.summary["follow_up_rerouted"] += 1
            yield {
                "difference": "follow_up_rerouted",
                "parent_id": str(parent_id),
                "handoff_id": str(event.originator_id),
                "chain_id": str(track.chain_id),
                "recorded": recorded,
                "simulated": simulated,
            }

    def _owed_at_end(self) -> Iterator[Difference]:
        for parent_id, owed in self._owed.items():
            to = follow_up_receiver(owed.route, owed.parent, owed.event)
            if owed.recorded_route == (owed.route.kind, to):
                continue  # owed in both runs: the recorded reactor had not got to it yet
            self.summary["follow_up_added"] += 1
            yield {
                "difference": "follow_up_added",
                "parent_id": str(parent_id),
                "chain_id": str(owed.chain_id),
                "simulated": {"kind": owed.route.kind, "to": to},
            }

    # ------------------------------------------------------------------ agents' actions

    def _agent_event(self, track: _Track, event: Handoff.Event) -> Iterator[Difference]:
        sim = track.sim
        assert sim is not None
        if isinstance(event, Handoff.Acked) and event.implicit:
            self._fold(track, event)
            return  # recorded with the action after it, which the replay repeats
        refusal: HandoffError | None = None
        try:
            # Folding an event changes the aggregate in place: the command is replayed
            # against the recorded handoff as it stood before its event.
            self._replay(track.recorded, sim, event)
        except HandoffError as error:
            refusal = error
        self._fold(track, event)
        if refusal is not None:
            yield from self._diverge(track, event, refusal)
            return
        self._collect(track)
        if isinstance(event, _CLOSING):
            self._closed(track, event)

    def _replay(self, before: Handoff | Outline, sim: Handoff, event: Handoff.Event) -> None:
        """Run the command that recorded ``event`` on the simulated handoff."""
        by, now = event.by, event.timestamp
        spec = self._spec(before.protocol_version, before.kind)
        if isinstance(event, Handoff.Acked):
            every = _seconds(event.update_every)
            sim_spec = self._spec(sim.protocol_version, sim.kind)
            promise = every
            if every == (spec.update_every if spec else None):
                promise = sim_spec.update_every if sim_spec else None
            sim.ack(by=by, now=now, eta=_delta(event.eta, now), next_update=promise)
        elif isinstance(event, Handoff.StatusReported | Handoff.TakenOver):
            every = _seconds(event.update_every)
            promise = None if every == _seconds(before.update_every) else every
            eta = _delta(event.eta, now)
            if isinstance(event, Handoff.TakenOver):
                sim.take_over(by=by, now=now, worker=event.worker, eta=eta, next_update=promise)
            else:
                sim.report_status(by=by, now=now, status=Status(event.status),
                                  message=event.message, eta=eta, next_update=promise)  # fmt: skip
        elif isinstance(event, Handoff.Completed):
            sim_spec = self._spec(sim.protocol_version, sim.kind)
            if sim_spec is not None:
                sim_spec.validate_result(event.result)
            sim.complete(by=by, now=now, result=event.result)
        elif isinstance(event, Handoff.Failed):
            sim.fail(by=by, now=now, reason=event.reason, result=event.result)
        elif isinstance(event, Handoff.Declined):
            sim.decline(by=by, now=now, reason=event.reason)
        elif isinstance(event, Handoff.Cancelled):
            sim.cancel(by=by, now=now, reason=event.reason, is_admin=by != before.sender)
        elif isinstance(event, Handoff.Reassigned):
            self.candidate.agent(event.to_receiver, "to")
            sim.reassign(by=by, now=now, to=event.to_receiver, reason=event.reason,
                         is_admin=by != before.sender)  # fmt: skip
        elif isinstance(event, Handoff.Replied):
            self.candidate.agent(by, "as")
            admin = by != before.sender and by not in before.escalation_targets
            sim.reply(by=by, now=now, message=event.message, data=event.data, is_admin=admin)
        elif isinstance(event, Handoff.Escalated):
            sim.escalate(by=by, now=now, reason=EscalationReason(event.reason),
                         notified=list(event.notified), level=event.level,
                         message=event.message)  # fmt: skip
        elif isinstance(event, Handoff.NoteAdded):
            sim.add_note(by=by, now=now, message=event.message)

    def _diverge(
        self, track: _Track, event: Handoff.Event, error: HandoffError
    ) -> Iterator[Difference]:
        """The candidate refuses a recorded action: report it, stop simulating the chain."""
        self._diverged.add(track.chain_id)
        self._dropped.add(track.stored_id)
        self.summary["refused"] += 1
        yield {
            "difference": "refused",
            "handoff_id": str(event.originator_id),
            "chain_id": str(track.chain_id),
            "at": iso(event.timestamp),
            "action": type(event).__name__,
            "by": event.by,
            **_error_fields(error),
        }
        for handoff_id in [h for h, t in self._tracks.items() if t.chain_id == track.chain_id]:
            other = self._tracks.pop(handoff_id)
            self._dropped.add(other.stored_id)
            if other.sim is not None:
                yield from self._compare(handoff_id, other)
        for parent_id in [p for p, o in self._owed.items() if o.chain_id == track.chain_id]:
            del self._owed[parent_id]

    # ------------------------------------------------------------------ the reactor

    def _reactor_event(self, track: _Track, event: Handoff.Event) -> None:
        """A recorded reactor move: the simulated reactor takes the same step then,
        if its own policy has that step pending; the recorded move is only compared."""
        self._fire_due(track, event.timestamp)
        self._fold(track, event)
        self._note_reactor(track, event)
        if not isinstance(event, Handoff.Escalated) or event.timer_due is None:
            return
        sim = track.sim
        assert sim is not None
        timer = Timer(EscalationReason(event.reason), event.timer_due)
        if timer not in sim.timers():
            return
        step = sim.next_step(timer)
        if step is None or (step.level, step.repeat) != (event.level, event.repeat):
            return
        if step.due <= event.timestamp:
            self._fire(track, timer, step, event.timestamp)

    def _note_reactor(self, track: _Track, event: Handoff.Event) -> None:
        if isinstance(event, Handoff.Escalated) and _is_reactor(event):
            track.recorded_steps.append(_step_key(event))
        elif isinstance(event, Handoff.Reassigned) and event.by == REACTOR:
            track.recorded_steps.append(_move_key(event))

    def _fire_due(self, track: _Track, now: datetime) -> None:
        """Fire the simulated handoff's steps due by ``now``, earliest first, except a
        step the recorded handoff has pending too (the live reactor was not there yet)."""
        sim = track.sim
        if sim is None:
            return
        while sim.is_open:
            due: list[tuple[datetime, Timer, Step]] = []
            for timer in sim.timers():
                if timer.due > now:
                    continue  # a step is never due before its promise breaks
                step = sim.next_step(timer)
                if step is None or step.due > now:
                    continue
                due.append((step.due, timer, step))
            if not due:
                return  # the usual case: nothing due, no need to look at the recorded side
            pending = {
                (t, (s.level, s.repeat))
                for t in track.recorded.timers()
                if (s := track.recorded.next_step(t)) is not None
            }
            due = [d for d in due if (d[1], (d[2].level, d[2].repeat)) not in pending]
            if not due:
                return
            at, timer, step = min(due, key=lambda d: (d[0], d[1].reason.value))
            self._fire(track, timer, step, at)

    def _fire(self, track: _Track, timer: Timer, step: Step, now: datetime) -> None:
        sim = track.sim
        assert sim is not None
        sim.fire_escalation(
            by=REACTOR,
            now=now,
            policy=self._policy(sim),
            reason=timer.reason,
            timer_due=timer.due,
            level=step.level,
            repeat=step.repeat,
        )
        self._collect(track)

    def _collect(self, track: _Track) -> None:
        """Keep the simulated reactor's moves for the comparison; drop the rest."""
        assert track.sim is not None
        for event in track.sim.collect_events():
            assert isinstance(event, Handoff.Event)
            if _is_reactor(event) and isinstance(event, Handoff.Escalated | Handoff.Reassigned):
                key = _step_key(event) if isinstance(event, Handoff.Escalated) else _move_key(event)
                track.sim_steps.append(key)

    # ------------------------------------------------------------------ comparison

    def _compare(self, handoff_id: UUID, track: _Track) -> Iterator[Difference]:
        """The reactor moves one run made on this handoff and the other did not."""
        if not track.recorded_steps and not track.sim_steps:
            return  # no reactor move in either run (most handoffs): nothing to count
        recorded, simulated = Counter(track.recorded_steps), Counter(track.sim_steps)
        for key, extra in (recorded - simulated).items():
            for _ in range(extra):
                yield self._difference("removed", handoff_id, track, key)
        for key, extra in (simulated - recorded).items():
            for _ in range(extra):
                yield self._difference("added", handoff_id, track, key)

    def _difference(
        self, change: str, handoff_id: UUID, track: _Track, key: tuple[Any, ...]
    ) -> Difference:
        if key[0] == "escalation":
            _, reason, level, repeat, notified, timer_due, action = key
            what: Difference = {
                "reason": reason,
                "level": level,
                "repeat": repeat,
                "notified": list(notified),
                "timer_due": iso(timer_due),
                "action": action,
            }
        else:
            _, from_receiver, to_receiver, reason = key
            what = {"from": from_receiver, "to": to_receiver, "reason": reason}
        name = f"{key[0]}_{change}"
        self.summary[name] += 1
        return {
            "difference": name,
            "handoff_id": str(handoff_id),
            "chain_id": str(track.chain_id),
            "kind": track.recorded.kind,
            **what,
        }

    # ------------------------------------------------------------------ protocols

    def _protocol(self, version: int | None) -> Protocol | None:
        if version is None:
            return None
        if version == self.candidate_version:
            return self.candidate
        return self.ledger.protocol_version(version).protocol

    def _spec(self, version: int | None, kind: str | None) -> KindSpec | None:
        protocol = self._protocol(version)
        if protocol is None or kind is None:
            return None
        return protocol.kinds.get(kind)

    def _policy(self, handoff: Handoff) -> EscalationPolicy:
        """The escalation policy of the handoff's version, as ``Ledger.escalation_policy``."""
        cache_key = (handoff.protocol_version, handoff.kind)
        policy = self._policies.get(cache_key)
        if policy is None:
            protocol = self._protocol(handoff.protocol_version)
            levels = protocol.escalation_levels(handoff.kind) if protocol else ()
            policy = self._policies[cache_key] = EscalationPolicy(levels)
        return policy

    @staticmethod
    def _fold(track: _Track, event: Handoff.Event) -> None:
        """Move the recorded side on by one of its events."""
        recorded = track.recorded
        if isinstance(recorded, Outline):
            recorded.fold(event)
        else:
            track.recorded = Simulation._apply(recorded, event)

    @staticmethod
    def _apply(handoff: Handoff | None, event: Handoff.Event) -> Handoff:
        folded = event.mutate(handoff)
        assert isinstance(folded, Handoff)
        return folded


def _is_reactor(event: Handoff.Event) -> bool:
    """A move of the reactor's (recomputed, not replayed): what it records as itself,
    and any escalation of a timer (only the reactor's path records those)."""
    if event.by == REACTOR:
        return True
    return isinstance(event, Handoff.Escalated) and event.reason != EscalationReason.MANUAL


def _step_key(event: Handoff.Escalated) -> tuple[Any, ...]:
    return (
        "escalation",
        event.reason,
        event.level,
        event.repeat,
        tuple(event.notified),
        event.timer_due,
        event.action,
    )


def _move_key(event: Handoff.Reassigned) -> tuple[Any, ...]:
    return ("reassignment", event.from_receiver, event.to_receiver, event.reason)


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _delta(moment: datetime | None, now: datetime) -> timedelta | None:
    return None if moment is None or moment <= now else moment - now


def _error_fields(error: HandoffError) -> Document:
    fields: Document = {"code": error.code, "message": error.message}
    if isinstance(error, PayloadInvalid):
        fields["field"] = error.field
    return fields
