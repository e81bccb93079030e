"""The ``Handoff`` aggregate: one unit of work passed from a sender to a receiver.

Every rule of the lifecycle is checked here, before an event is triggered, so the
CLI, HTTP and MCP interfaces cannot disagree about what is allowed. Commands take the
acting agent and the current time as arguments: the domain reads no clock of its own,
which keeps it pure and lets tests and the demo run hours of simulated time.

A handoff's recorded times never go backwards: a command whose ``now`` is earlier
than the handoff's last event (a clock stepped back) is recorded at that event's
time, with the clock's reading kept in the event's ``clamped_from``.

Events are explicit classes nested in the aggregate (eventsourcing 9.5 idiom); each
carries ``by`` (who acted) and ``chain_id`` so a log entry can be read on its own.

Why this module is long (over 400 lines): the aggregate, its nested event classes and
the ``apply`` of each must be one class in eventsourcing's idiom, and every command
sits beside the event it triggers so a reader sees a rule and its effect together.
The rules themselves live in ``rules.py``, the timers in ``timers.py``.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import KW_ONLY
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from handoff_ledger.domain import rules
from handoff_ledger.domain.durations import require_in_range
from handoff_ledger.domain.errors import InvalidInput, InvalidTransition
from handoff_ledger.domain.escalation import EscalationPolicy, Step, step_due
from handoff_ledger.domain.integrity import SCHEME, event_digest
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.protocol import Action
from handoff_ledger.domain.states import OPEN_STATES, TERMINAL_STATES, State, Status
from handoff_ledger.domain.timers import EscalationReason, Timer, armed_timers, timer_key

__all__ = ["IDEMPOTENCY_NAMESPACE", "Handoff"]

IDEMPOTENCY_NAMESPACE = UUID("6f1c1a52-4a8e-4d4b-9f55-2f0d8e1f7a11")
"""uuid5 namespace: a sender's idempotency key maps to one handoff id, forever."""

JSONObject = dict[str, Any]
E = TypeVar("E", bound="Handoff.Event")


class Handoff(Aggregate):
    """A structured handoff with its acknowledgement loop and its timers."""

    hashed = True
    """Whether new events are hashed into the chain: False (set on the instance) only
    for a handoff that is never stored (a what-if run, ``protocol simulate``), whose
    events then carry no hash, as events recorded before hash chains existed, and
    whose values (replayed from stored events) are not checked again against the
    storage limits (``rules.require_storable``); its events are built without their
    dataclass ``__init__`` (``_unchecked_event``)."""

    class Event(Aggregate.Event):
        """Base of every handoff event: who acted, and which chain it belongs to."""

        by: str
        chain_id: UUID
        _: KW_ONLY
        prev_hash: str | None = None
        """The hash of the handoff's previous event (None for the first)."""
        hash: str | None = None
        """This event's hash (``integrity.event_digest``); None on events recorded
        before hash chains existed."""
        scheme: str | None = None
        """How ``hash`` was computed (``integrity.SCHEME``); absent on events recorded
        before schemes were named (they are ``integrity.SCHEME_V1``)."""
        clamped_from: datetime | None = None
        """The clock's reading when it was earlier than the handoff's previous event:
        the event is recorded at that event's time instead (see ``recorded_time``)."""
        as_sent: JSONObject | None = None
        """The message exactly as another protocol carried it (an A2A message on
        ``Created`` or ``Replied``), kept so the receiver sees what was sent."""

        OMITTED_WHEN_NONE: ClassVar[tuple[str, ...]] = ("clamped_from", "scheme", "as_sent")
        """Optional fields added after events were first stored: absent when None."""

        def __post_init__(self) -> None:
            super().__post_init__()
            # An unclamped event holds no ``clamped_from`` at all (the class default
            # answers None), so it is stored and hashed exactly as events were before
            # the clamp existed, and old events (which lack the key) verify as before.
            # The same for every field of ``OMITTED_WHEN_NONE`` (an ack's ``worker``).
            values = vars(self)  # the instance's own dict: a key removed is an attribute gone
            for name in self.OMITTED_WHEN_NONE:
                if name in values and values[name] is None:
                    del values[name]

        def mutate(self, aggregate: Any) -> Any:
            """Apply the event, then remember its hash: the next event links to it."""
            mutated = super().mutate(aggregate)
            if mutated is not None:
                mutated.last_hash = self.hash
            return mutated

    class Created(Event, Aggregate.Created):
        """The sender handed work to the receiver."""

        sender: str
        receiver: str
        parent_id: UUID | None
        kind: str | None
        trigger: str | None
        priority: str
        payload: JSONObject
        ack_within: float | None
        ack_due: datetime | None
        deadline_within: float | None
        deadline_due: datetime | None
        escalate_to: list[str]
        key: str | None
        protocol_version: int | None

        def mutate(self, aggregate: Any) -> Any:
            """The handoff this event creates, built directly: what the library's
            ``Created.mutate`` does for it (the base fields, ``__init__`` with the
            event's values it names, ``apply``, then the hash link), without
            filtering the event's values against two signatures on every load."""
            if aggregate is not None or self.originator_topic != _HANDOFF_TOPIC:
                return super().mutate(aggregate)
            values = vars(self)
            handoff = Handoff.__new__(Handoff)
            handoff.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            handoff.__init__(  # type: ignore[misc]
                **{name: values[name] for name in _INIT_FIELDS if name in values}
            )
            self.apply(handoff)
            handoff.last_hash = self.hash
            return handoff

    class Acked(Event):
        """The receiver took the handoff into its queue (``implicit``: by acting on it)."""

        eta: datetime | None
        update_due: datetime | None
        update_every: float | None
        implicit: bool
        worker: str | None = None
        """The receiver's worker that took it (``handoff next --worker``), if one did."""

        OMITTED_WHEN_NONE = ("clamped_from", "scheme", "as_sent", "worker")

        def apply(self, aggregate: Handoff) -> None:
            aggregate.state = State.ACKED
            aggregate.worker = self.worker
            aggregate.acked_at = self.timestamp
            aggregate.eta = self.eta
            aggregate.update_due = self.update_due
            aggregate.update_every = self.update_every
            aggregate.ack_due = None

    class StatusReported(Event):
        """The receiver broadcast where the work stands."""

        status: str
        message: str | None
        eta: datetime | None
        update_due: datetime | None
        update_every: float | None

        def apply(self, aggregate: Handoff) -> None:
            aggregate.status = self.status
            aggregate.status_message = self.message
            aggregate.state = Status(self.status).state
            aggregate.last_report_at = self.timestamp
            if self.eta is not None:
                aggregate.eta = self.eta
            aggregate.update_due = self.update_due
            aggregate.update_every = self.update_every

    class Escalated(Event):
        """A promise was broken (or someone escalated by hand) and targets were notified."""

        reason: str
        level: int
        notified: list[str]
        timer_due: datetime | None
        message: str | None
        repeat: int = 0
        action: str = "notify"
        next_level: int | None = None
        next_repeat: int | None = None
        next_due: datetime | None = None

        def apply(self, aggregate: Handoff) -> None:
            key = _escalation_key(self.reason, self.timer_due, self.level, self.repeat)
            aggregate.escalations.add(key)
            aggregate.escalation_count += 1
            aggregate.escalation_targets.update(self.notified)
            if self.timer_due is not None:
                expected = timer_key(self.reason, self.timer_due)
                if self.next_level is None or self.next_due is None:
                    aggregate.next_steps[expected] = None
                else:
                    aggregate.next_steps[expected] = Step(
                        self.next_level, self.next_repeat or 0, self.next_due
                    )

    class Completed(Event):
        """The receiver finished the work; ``result`` is what it hands back."""

        result: JSONObject | None

        def apply(self, aggregate: Handoff) -> None:
            aggregate.state = State.COMPLETED
            aggregate.result = self.result
            aggregate.closed_at = self.timestamp
            aggregate.disarm_timers()

    class TakenOver(Event):
        """Another worker of the receiver took the handoff on: its worker's update
        promise was overdue (the work is resumed, not dropped and not done twice)."""

        worker: str
        from_worker: str | None
        eta: datetime | None
        update_due: datetime | None
        update_every: float | None

        def apply(self, aggregate: Handoff) -> None:
            aggregate.worker = self.worker
            aggregate.eta = self.eta
            aggregate.update_due = self.update_due
            aggregate.update_every = self.update_every

    class Failed(Event):
        """The receiver tried and could not finish (``declined`` refuses the work instead);
        ``result`` is what it has to show for the attempt."""

        reason: str
        result: JSONObject | None

        def apply(self, aggregate: Handoff) -> None:
            aggregate.state = State.FAILED
            aggregate.outcome_reason = self.reason
            aggregate.result = self.result
            aggregate.closed_at = self.timestamp
            aggregate.disarm_timers()

    class Replied(Event):
        """An answer to the receiver from its sender, an escalation target or an admin.

        A blocked handoff (``need_help``/``stuck``) goes back to ``in_progress``, and
        the receiver owes its next update again, ``update_every`` after the reply.
        """

        message: str
        data: JSONObject | None
        update_due: datetime | None

        def apply(self, aggregate: Handoff) -> None:
            if aggregate.state is State.BLOCKED:
                aggregate.state = State.IN_PROGRESS
            if self.update_due is not None:
                aggregate.update_due = self.update_due
            aggregate.last_reply_at = self.timestamp

    class Declined(Event):
        """The receiver refused the work."""

        reason: str

        def apply(self, aggregate: Handoff) -> None:
            aggregate.state = State.DECLINED
            aggregate.outcome_reason = self.reason
            aggregate.closed_at = self.timestamp
            aggregate.disarm_timers()

    class Cancelled(Event):
        """The sender (or an admin) withdrew the work."""

        reason: str

        def apply(self, aggregate: Handoff) -> None:
            aggregate.state = State.CANCELLED
            aggregate.outcome_reason = self.reason
            aggregate.closed_at = self.timestamp
            aggregate.disarm_timers()

    class Reassigned(Event):
        """The work moved to a new receiver, back to ``requested`` with fresh timers."""

        from_receiver: str
        to_receiver: str
        reason: str
        ack_due: datetime | None
        deadline_due: datetime | None

        def apply(self, aggregate: Handoff) -> None:
            aggregate.receiver = self.to_receiver
            aggregate.state = State.REQUESTED
            aggregate.worker = None
            aggregate.acked_at = None
            aggregate.eta = None
            aggregate.status = None
            aggregate.status_message = None
            aggregate.update_due = None
            aggregate.update_every = None
            aggregate.ack_due = self.ack_due
            aggregate.deadline_due = self.deadline_due

    class NoteAdded(Event):
        """Informal collaboration: logged, with no obligations and no timers."""

        message: str

    def __init__(
        self,
        sender: str,
        receiver: str,
        chain_id: UUID,
        parent_id: UUID | None,
        kind: str | None,
        trigger: str | None,
        priority: str,
        payload: JSONObject,
        ack_within: float | None,
        ack_due: datetime | None,
        deadline_within: float | None,
        deadline_due: datetime | None,
        escalate_to: list[str],
        key: str | None,
        protocol_version: int | None,
    ) -> None:
        self.sender = sender
        self.receiver = receiver
        self.chain_id = chain_id
        self.parent_id = parent_id
        self.kind = kind
        self.trigger = trigger
        self.priority = priority
        self.payload = payload
        self.ack_within = ack_within
        self.ack_due = ack_due
        self.deadline_within = deadline_within
        self.deadline_due = deadline_due
        self.escalate_to = list(escalate_to)
        self.key = key
        self.protocol_version = protocol_version
        self.state = State.REQUESTED
        self.acked_at: datetime | None = None
        self.worker: str | None = None
        """The receiver's worker holding the handoff (``handoff next``), if any."""
        self.eta: datetime | None = None
        self.update_due: datetime | None = None
        self.update_every: float | None = None
        self.status: str | None = None
        self.status_message: str | None = None
        self.last_report_at: datetime | None = None
        self.result: JSONObject | None = None
        self.outcome_reason: str | None = None
        self.closed_at: datetime | None = None
        self.escalations: set[str] = set()
        self.escalation_count = 0
        self.escalation_targets: set[str] = set(escalate_to)
        """Everyone an escalation of this handoff named or notified: they may reply."""
        self.last_reply_at: datetime | None = None
        self.next_steps: dict[str, Step | None] = {}
        """Per armed timer (``timer_key``): the escalation step due next; None when done."""
        self.last_hash: str | None = None
        """The hash of the last event applied (set by ``Event.mutate``)."""

    # ----------------------------------------------------------------- creation

    @staticmethod
    def id_for_key(sender: str, key: str) -> UUID:
        """The one id a sender's idempotency key can ever create."""
        return uuid5(IDEMPOTENCY_NAMESPACE, f"{sender}\n{key}")

    @classmethod
    def request(
        cls,
        *,
        now: datetime,
        sender: str,
        receiver: str,
        priority: Priority = Priority.MEDIUM,
        payload: JSONObject | None = None,
        kind: str | None = None,
        trigger: str | None = None,
        ack_within: timedelta | None = None,
        deadline: datetime | None = None,
        deadline_within: timedelta | None = None,
        escalate_to: list[str] | None = None,
        key: str | None = None,
        parent: Handoff | None = None,
        protocol_version: int | None = None,
        as_sent: JSONObject | None = None,
        hashed: bool = True,
        handoff_id: UUID | None = None,
    ) -> Handoff:
        """Hand work from ``sender`` to ``receiver``; the first event of every handoff.

        ``deadline_within`` (a duration) restarts on reassignment; an absolute
        ``deadline`` stands. A child of ``parent`` joins the parent's chain.
        ``as_sent``: the message as another protocol carried it (kept, never read).
        ``handoff_id``: the id to use when no ``key`` fixes it (a what-if run gives the
        recorded handoff's own); a new random one by default.
        """
        for role, name in (("from", sender), ("to", receiver)):
            rules.require_agent_name(name, role)
        for target in escalate_to or []:
            rules.require_agent_name(target, "escalate_to")
        rules.require_few_targets(escalate_to or [])
        if sender == receiver:
            raise InvalidInput(f"to: {receiver!r} cannot hand off to itself")
        if deadline is not None and deadline_within is not None:
            raise InvalidInput("deadline: give either a duration or a time, not both")
        if deadline_within is not None:
            deadline = now + deadline_within
        if deadline is not None and deadline <= now:
            raise InvalidInput(f"deadline: {deadline.isoformat()} is already in the past")
        if deadline is not None:
            require_in_range(deadline, "deadline")
        if hashed:  # a what-if's handoff replays values that were stored: they fit
            for field, value in (("payload", payload), ("trigger", trigger), ("kind", kind)):
                rules.require_storable(value, field)
            rules.require_storable(key, "key")
            rules.require_storable(as_sent, "message")
        handoff_id = cls.id_for_key(sender, key) if key else (handoff_id or uuid4())
        fields: JSONObject = dict(
            by=sender,
            chain_id=parent.chain_id if parent else handoff_id,
            sender=sender,
            receiver=receiver,
            parent_id=parent.id if parent else None,
            kind=kind,
            trigger=trigger,
            priority=priority.value,
            payload=dict(payload or {}),
            ack_within=ack_within.total_seconds() if ack_within else None,
            ack_due=now + ack_within if ack_within else None,
            deadline_within=deadline_within.total_seconds() if deadline_within else None,
            deadline_due=deadline,
            escalate_to=list(dict.fromkeys(escalate_to or [])),
            key=key,
            protocol_version=protocol_version,
        )
        if as_sent is not None:
            fields["as_sent"] = as_sent
        if not hashed:
            # Never stored: built without the event's dataclass ``__init__`` (see
            # ``_unchecked_event``), and carries no hash.
            created = _unchecked_event(
                cls.Created,
                originator_topic=get_topic(cls),
                originator_id=handoff_id,
                originator_version=cls.INITIAL_VERSION,
                timestamp=now,
                scheme=SCHEME,
                **fields,
            )
            handoff = created.mutate(None)
            assert isinstance(handoff, cls)
            handoff.pending_events.append(created)
            handoff.hashed = False  # on the instance only: a stored handoff holds no flag
            return handoff
        digest = event_digest(
            type_name=cls.Created.__name__,
            handoff_id=handoff_id,
            version=cls.INITIAL_VERSION,
            at=now,
            prev_hash=None,
            data=fields,
            scheme=SCHEME,
        )
        return cls._create(
            cls.Created, id=handoff_id, timestamp=now, hash=digest, scheme=SCHEME, **fields
        )

    # ----------------------------------------------------------------- commands

    def ack(
        self,
        *,
        by: str,
        now: datetime,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
        worker: str | None = None,
    ) -> bool:
        """Take the handoff into the receiver's queue (by its ``worker``, if named).

        Returns False when the receiver had already acked it: a repeated ack on an
        open handoff is a no-op that leaves the first ack standing (for a worker
        taking work, a loss: another worker took it first).
        """
        rules.require_receiver(self, by, "ack")  # who you are before what state it is in
        rules.require_open(self, "ack")
        rules.require_worker_name(worker)
        if self.acked_at is not None:
            return False
        at = self.recorded_time(now)
        extra = {"worker": worker} if worker is not None else {}
        self._record(
            self.Acked,
            by=by,
            now=now,
            eta=at + eta if eta else None,
            update_due=at + next_update if next_update else None,
            update_every=next_update.total_seconds() if next_update else None,
            implicit=False,
            **extra,
        )
        return True

    def take_over(
        self,
        *,
        by: str,
        now: datetime,
        worker: str,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
    ) -> None:
        """Another worker of the receiver takes the work on, once its worker's update
        promise is overdue (it was escalated as any broken promise is)."""
        rules.require_receiver(self, by, "take over")
        rules.require_open(self, "take over")
        rules.require_worker_name(worker)
        if self.acked_at is None:
            raise InvalidTransition(f"handoff {self.id} is not taken yet: take it, not over")
        if worker == self.worker:
            raise InvalidTransition(f"handoff {self.id} is already {worker}'s")
        if self.update_due is None or self.update_due > now:
            raise InvalidTransition(
                f"handoff {self.id} is {self.worker or 'its receiver'}'s, and its update"
                " promise is not overdue"
            )
        at = self.recorded_time(now)
        every = next_update.total_seconds() if next_update else self.update_every
        self._record(
            self.TakenOver,
            by=by,
            now=now,
            worker=worker,
            from_worker=self.worker,
            eta=at + eta if eta else self.eta,
            update_due=at + timedelta(seconds=every) if every else None,
            update_every=every,
        )

    def report_status(
        self,
        *,
        by: str,
        now: datetime,
        status: Status,
        message: str | None = None,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
    ) -> None:
        """Broadcast progress; re-arms the update timer (with the last interval if none given)."""
        rules.require_receiver(self, by, "report status on")
        rules.require_open(self, "report status on")
        if self.hashed:  # see request(): replayed values fit
            rules.require_storable(message, "message")
        self._ack_implicitly(by, now)
        every = next_update.total_seconds() if next_update else self.update_every
        at = self.recorded_time(now)
        self._record(
            self.StatusReported,
            by=by,
            now=now,
            status=status.value,
            message=message,
            eta=at + eta if eta else None,
            update_due=at + timedelta(seconds=every) if every else None,
            update_every=every,
        )

    def complete(self, *, by: str, now: datetime, result: JSONObject | None = None) -> None:
        """Finish the work; the protocol's follow-ups hang off this event."""
        rules.require_receiver(self, by, "complete")
        rules.require_open(self, "complete")
        if self.hashed:  # see request(): replayed values fit
            rules.require_storable(result, "result")
        self._ack_implicitly(by, now)
        self._record(self.Completed, by=by, now=now, result=result)

    def fail(
        self, *, by: str, now: datetime, reason: str, result: JSONObject | None = None
    ) -> None:
        """Give up on the work after trying, saying why; ``on_fail`` follow-ups hang off it."""
        rules.require_receiver(self, by, "fail")
        rules.require_open(self, "fail")
        rules.require_text(reason, "reason")
        if self.hashed:  # see request(): replayed values fit
            rules.require_storable(result, "result")
        self._ack_implicitly(by, now)
        self._record(self.Failed, by=by, now=now, reason=reason, result=result)

    def reply(
        self,
        *,
        by: str,
        now: datetime,
        message: str,
        data: JSONObject | None = None,
        is_admin: bool = False,
        as_sent: JSONObject | None = None,
    ) -> None:
        """Answer the receiver (its sender, an escalation target or an admin).

        Unlike a note, a reply is part of the protocol: a blocked handoff resumes, and
        the receiver's update timer re-arms from the reply when it promised updates.
        """
        rules.require_may_reply(self, by, is_admin)
        rules.require_open(self, "reply to")
        rules.require_text(message, "message")
        if self.hashed:  # see request(): replayed values fit
            rules.require_storable(data, "data")
        if self.hashed:  # see request(): replayed values fit
            rules.require_storable(as_sent, "message")
        at = self.recorded_time(now)
        every = self.update_every
        extra: JSONObject = {} if as_sent is None else {"as_sent": as_sent}
        self._record(
            self.Replied,
            by=by,
            now=now,
            message=message,
            data=data,
            update_due=at + timedelta(seconds=every) if every and self.acked_at else None,
            **extra,
        )

    def decline(self, *, by: str, now: datetime, reason: str) -> None:
        """Refuse the work, saying why."""
        rules.require_receiver(self, by, "decline")
        rules.require_open(self, "decline")
        rules.require_text(reason, "reason")
        self._ack_implicitly(by, now)
        self._record(self.Declined, by=by, now=now, reason=reason)

    def cancel(self, *, by: str, now: datetime, reason: str, is_admin: bool = False) -> None:
        """Withdraw the work (sender or admin)."""
        rules.require_sender_or_admin(self, by, is_admin, "cancel")
        rules.require_open(self, "cancel")
        rules.require_text(reason, "reason")
        self._record(self.Cancelled, by=by, now=now, reason=reason)

    def reassign(
        self, *, by: str, now: datetime, to: str, reason: str, is_admin: bool = False
    ) -> None:
        """Move the work to ``to``: back to ``requested``; ack timer, relative deadline restart."""
        rules.require_sender_or_admin(self, by, is_admin, "reassign")
        rules.require_open(self, "reassign")
        rules.require_agent_name(to, "to")
        rules.require_text(reason, "reason")
        if to == self.receiver:
            raise InvalidTransition(f"handoff {self.id} is already assigned to {to}")
        if to == self.sender:
            raise InvalidInput(f"to: {to!r} is the sender; cancel the handoff instead")
        at = self.recorded_time(now)
        deadline = self.deadline_due
        if self.deadline_within is not None:
            deadline = at + timedelta(seconds=self.deadline_within)
        self._record(
            self.Reassigned,
            by=by,
            now=now,
            from_receiver=self.receiver,
            to_receiver=to,
            reason=reason,
            ack_due=at + timedelta(seconds=self.ack_within) if self.ack_within else None,
            deadline_due=deadline,
        )

    def add_note(self, *, by: str, now: datetime, message: str) -> None:
        """Anyone may add a note, even on a terminal handoff."""
        rules.require_agent_name(by, "as")
        rules.require_text(message, "message")
        self._record(self.NoteAdded, by=by, now=now, message=message)

    def escalate(
        self,
        *,
        by: str,
        now: datetime,
        reason: EscalationReason,
        notified: list[str],
        level: int = 1,
        repeat: int = 0,
        timer_due: datetime | None = None,
        message: str | None = None,
        action: str = "notify",
        next_step: Step | None = None,
    ) -> None:
        """Record one step of an escalation; each step of each timer happens exactly once.

        For a timer reason, ``timer_due`` names the arming of the timer that fired;
        it must be armed now and due, which keeps a slow or restarted reactor from
        escalating a promise the receiver has since kept. The step must be the one
        the previous step of this timer named as next (level 1 first), and due:
        a second reactor trying the same step, or a stale one trying an earlier one,
        is refused. ``next_step`` is what the policy says comes after this one.
        """
        rules.require_open(self, "escalate")
        if level < 1:
            raise InvalidInput(f"level: {level} must be 1 or more")
        if repeat < 0:
            raise InvalidInput(f"repeat: {repeat} must be 0 or more")
        if reason is not EscalationReason.MANUAL:
            self._require_next_step(reason, timer_due, level, repeat, now)
        self._record(
            self.Escalated,
            by=by,
            now=now,
            reason=reason.value,
            level=level,
            notified=list(dict.fromkeys(notified)),
            timer_due=timer_due,
            message=message,
            repeat=repeat,
            action=action,
            next_level=next_step.level if next_step else None,
            next_repeat=next_step.repeat if next_step else None,
            next_due=next_step.due if next_step else None,
        )

    def fire_escalation(
        self,
        *,
        by: str,
        now: datetime,
        policy: EscalationPolicy,
        reason: EscalationReason,
        timer_due: datetime,
        level: int,
        repeat: int = 0,
    ) -> str | None:
        """Take one step of ``policy`` for a broken promise: notify, and maybe reassign.

        The step must be the timer's next one and due (see :meth:`escalate`). Whom it
        notifies: the level's ``notify``, else the handoff's escalation targets, else
        its sender. A ``reassign`` level also moves the work to its backup agent, in
        the same transaction; returns that agent, or ``None`` when nothing moved.
        """
        sequence = policy.sequence(reason)
        if not 1 <= level <= len(sequence):
            raise InvalidTransition(
                f"handoff {self.id}: the {reason.value} policy has no level {level}"
            )
        spec = sequence[level - 1]
        fired = Step(level, repeat, timer_due)
        self.escalate(
            by=by,
            now=now,
            reason=reason,
            notified=list(spec.notify) or self.escalate_to or [self.sender],
            level=level,
            repeat=repeat,
            timer_due=timer_due,
            action=Action(spec.action).value,
            next_step=policy.after(reason, timer_due, fired, now),
        )
        backup = spec.to if spec.action == Action.REASSIGN else None
        if backup is None or backup in (self.receiver, self.sender):
            return None
        self.reassign(
            by=by,
            now=now,
            to=backup,
            reason=f"escalation policy: {reason.value} level {level}",
            is_admin=True,
        )
        return backup

    def next_step(self, timer: Timer) -> Step | None:
        """The escalation step of ``timer`` due next (level 1 at its due time at first)."""
        return step_due(self.next_steps, timer)

    def _require_next_step(
        self,
        reason: EscalationReason,
        timer_due: datetime | None,
        level: int,
        repeat: int,
        now: datetime,
    ) -> None:
        armed = {t.reason: t for t in self.timers()}
        timer = armed.get(reason)
        if timer is None or timer.due != timer_due:
            raise InvalidTransition(
                f"handoff {self.id} has no {reason.value} timer armed for "
                f"{timer_due.isoformat() if timer_due else 'that time'}"
            )
        if _escalation_key(reason.value, timer_due, level, repeat) in self.escalations:
            raise InvalidTransition(
                f"handoff {self.id}: {reason.value} due {timer.due.isoformat()} "
                f"was already escalated at level {level}"
                + (f" (repeat {repeat})" if repeat else "")
            )
        expected = self.next_step(timer)
        if expected is None or (expected.level, expected.repeat) != (level, repeat):
            wanted = f"level {expected.level} repeat {expected.repeat}" if expected else "none"
            raise InvalidTransition(
                f"handoff {self.id}: {reason.value} due {timer.due.isoformat()} is not at "
                f"level {level} repeat {repeat} (next step: {wanted})"
            )
        if expected.due > now:
            raise InvalidTransition(
                f"handoff {self.id}: {reason.value} level {level} is not due until "
                f"{expected.due.isoformat()}"
            )

    # ----------------------------------------------------------------- queries

    @property
    def is_open(self) -> bool:
        """True until the handoff is completed, failed, declined or cancelled."""
        return self.state in OPEN_STATES

    @property
    def is_terminal(self) -> bool:
        """True once nothing but notes can change the handoff."""
        return self.state in TERMINAL_STATES

    @property
    def priority_level(self) -> Priority:
        """The priority as an ordered enum."""
        return Priority(self.priority)

    def timers(self) -> list[Timer]:
        """Every timer armed now: ack, update, deadline (none once terminal)."""
        return armed_timers(
            is_open=self.is_open,
            ack_due=self.ack_due,
            acked_at=self.acked_at,
            update_due=self.update_due,
            deadline_due=self.deadline_due,
        )

    def due_timers(self, now: datetime) -> list[Timer]:
        """The armed timers whose promise is broken at ``now``."""
        return [t for t in self.timers() if t.is_due(now)]

    def recorded_time(self, now: datetime) -> datetime:
        """The time an event happening at clock time ``now`` is recorded at.

        A handoff's recorded times never go backwards: when the clock reads earlier
        than the handoff's last event (a clock stepped back by NTP, skew between two
        hosts), the event is recorded at the last event's time and keeps the clock's
        reading in ``clamped_from``. Timers armed by the event count from this time.
        """
        last: datetime = self.modified_on
        return last if now < last else now

    def disarm_timers(self) -> None:
        """Forget every promise: called when the handoff reaches a terminal state."""
        self.ack_due = None
        self.update_due = None

    # ----------------------------------------------------------------- helpers

    def _ack_implicitly(self, by: str, now: datetime) -> None:
        if self.acked_at is None:
            self._record(
                self.Acked,
                by=by,
                now=now,
                eta=None,
                update_due=None,
                update_every=None,
                implicit=True,
            )

    def _record(
        self, event_class: type[Handoff.Event], *, by: str, now: datetime, **fields: Any
    ) -> None:
        """Trigger one event at its recorded time, chained to the one before it by its hash.

        ``clamped_from`` is part of the event (and of what is hashed) only when the
        clock read earlier than the recorded time.
        """
        at = self.recorded_time(now)
        data = {"by": by, "chain_id": self.chain_id, **fields}
        if at != now:
            data["clamped_from"] = now
        if not self.hashed:
            # Never stored: no hash, and built without the event's dataclass
            # ``__init__`` (see ``_unchecked_event``); then as ``trigger_event``.
            event = _unchecked_event(
                event_class,
                originator_id=self.id,
                originator_version=self.version + 1,
                timestamp=at,
                prev_hash=self.last_hash,
                scheme=SCHEME,
                **data,
            )
            event.mutate(self)
            self.pending_events.append(event)
            return
        digest = event_digest(
            type_name=event_class.__name__,
            handoff_id=self.id,
            version=self.version + 1,
            at=at,
            prev_hash=self.last_hash,
            data=data,
            scheme=SCHEME,
        )
        self.trigger_event(
            event_class,
            timestamp=at,
            prev_hash=self.last_hash,
            hash=digest,
            scheme=SCHEME,
            **data,
        )


def _unchecked_event(event_class: type[E], **values: Any) -> E:
    """``event_class(**values)`` without the dataclass ``__init__`` (its argument
    binding, one ``object.__setattr__`` per field, the id's type check): for the
    events of a handoff that is never stored (``hashed`` False), whose values were
    checked when the events they replay were recorded. The instance holds what
    ``__init__`` gives it: the class's defaults, then ``values``, without an
    ``OMITTED_WHEN_NONE`` field that is None (``tests/unit/test_outline.py``)."""
    state = {**_event_defaults(event_class), **values}
    for name in event_class.OMITTED_WHEN_NONE:
        if name in state and state[name] is None:
            del state[name]
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


@cache
def _event_defaults(event_class: type[Handoff.Event]) -> dict[str, Any]:
    """The default of each of the class's fields that has one (not an omitted one)."""
    defaults = {}
    omitted = event_class.OMITTED_WHEN_NONE
    for spec in dataclasses.fields(event_class):
        if spec.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{event_class.__name__}.{spec.name}: a default factory")
        if spec.default is not dataclasses.MISSING and spec.name not in omitted:
            defaults[spec.name] = spec.default
    return defaults


def _escalation_key(reason: str, timer_due: datetime | None, level: int, repeat: int) -> str:
    return f"{timer_key(reason, timer_due)}#{level}.{repeat}"


_HANDOFF_TOPIC = get_topic(Handoff)
_INIT_FIELDS = tuple(inspect.signature(Handoff.__init__).parameters)[1:]
"""What ``Handoff.__init__`` takes (after ``self``): ``Created.mutate`` passes these."""
