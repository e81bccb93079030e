"""The application service: every command loads a handoff, applies a rule, saves.

``Ledger`` is an eventsourcing ``Application``. It owns the things the pure domain
cannot: the clock, the protocol in force (read from the store), idempotency-key
lookups, and optimistic-concurrency retries. Every interface (CLI, HTTP, MCP)
calls these methods and nothing else, so they all behave the same way.

Why this module is long (over 400 lines): ``Ledger`` is one eventsourcing
``Application``, and its use cases share its repository, its protocol cache and its
retry loop; split into mixins they would share private state across files. What is
not a use case lives beside it: tokens in ``tokens.py``, the clock in ``clock.py``.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Recording, Transcoder
from eventsourcing.utils import Environment, EnvType, get_topic

from handoff_ledger.adapters.ledger import tracing
from handoff_ledger.adapters.ledger.caches import (
    AlwaysCheck,
    HandoffCache,
    ProtocolMoved,
    ProtocolWatch,
)
from handoff_ledger.adapters.ledger.clock import Clock, SystemClock
from handoff_ledger.adapters.ledger.transcoding import LedgerTranscoder
from handoff_ledger.domain import rules
from handoff_ledger.domain.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotPermitted,
    ProtocolInvalid,
    Refused,
    UnknownHandoff,
)
from handoff_ledger.domain.escalation import EscalationPolicy
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.protocol import KindSpec, Protocol
from handoff_ledger.domain.protocol_record import PROTOCOL_ID, ProtocolRecord
from handoff_ledger.domain.sending import resolve_send
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.timers import EscalationReason
from handoff_ledger.domain.watch import ChainWatch

if TYPE_CHECKING:
    from handoff_ledger.adapters.ledger.spans import Tracing

__all__ = [
    "HANDOFF_TOPICS",
    "SYSTEM_AGENTS",
    "DueStep",
    "Ledger",
    "LoggedEvent",
    "ProtocolVersion",
    "SendOutcome",
    "StepOutcome",
]

T = TypeVar("T")
P = ParamSpec("P")

log = logging.getLogger(__name__)

HANDOFF_TOPICS = tuple(
    get_topic(cls)
    for cls in (
        Handoff.Created,
        Handoff.Acked,
        Handoff.StatusReported,
        Handoff.Escalated,
        Handoff.Completed,
        Handoff.Declined,
        Handoff.Cancelled,
        Handoff.Reassigned,
        Handoff.NoteAdded,
        Handoff.Failed,
        Handoff.Replied,
        Handoff.TakenOver,
    )
)
"""The log shows handoff events only (the protocol's own versions are not log entries)."""

SYSTEM_AGENTS = frozenset({"reactor"})
"""Actors of the ledger itself: they escalate, route follow-ups and leave notes."""

MAX_ATTEMPTS = 10
"""How often a command is re-run against a fresher handoff after losing a race.

Each lost race means another command on the same handoff was recorded, so with up
to ten agents writing one handoff at once every still-valid command gets through.
"""

RETRY_JITTER_SECONDS = 0.005
"""Up to this much random wait per attempt, so racing writers stop colliding in step."""

LOG_PAGE = 500


@dataclass(frozen=True)
class SendOutcome:
    """What ``send`` did: the handoff, and whether it already existed under that key.

    ``recorded``: the events this call saved (none for a duplicate), so a caller can
    answer with the handoff's history without reading it back.
    """

    handoff: Handoff
    duplicate: bool
    recorded: tuple[Handoff.Event, ...] = ()


@dataclass(frozen=True)
class AckOutcome:
    """What ``ack`` did: the handoff, and whether this call recorded the ack.

    ``position``: the log position of the ``Acked`` event this call recorded (None
    for a repeated ack), so a reader can wait for views to include it.
    """

    handoff: Handoff
    recorded: bool
    position: int | None = None


@dataclass(frozen=True)
class ProtocolVersion:
    """One version of the protocol: its number, its rules and the file it came from."""

    version: int
    protocol: Protocol
    text: str
    source: str
    sha256: str
    applied_at: datetime
    applied_by: str


@dataclass(frozen=True)
class LoggedEvent:
    """One entry of the handoff log: its position and the domain event."""

    position: int
    event: Handoff.Event


@dataclass(frozen=True)
class DueStep:
    """One escalation step the timers view says is due: which timer, which step."""

    handoff_id: UUID
    reason: EscalationReason
    timer_due: datetime
    level: int
    repeat: int = 0


@dataclass(frozen=True)
class StepOutcome:
    """What became of a :class:`DueStep`: the handoff after it, or why it was refused."""

    step: DueStep
    handoff: Handoff | None
    refused: str | None


class _AggregatesCollected(ProcessingEvent[UUID]):
    """Collects an aggregate's pending events by its class, not by runtime protocols."""

    def collect_events(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> None:
        aggregates = [obj for obj in objs if isinstance(obj, Aggregate)]
        if len(aggregates) == len(objs) - objs.count(None):
            for aggregate in aggregates:
                self.events.extend(aggregate.collect_events())
                self.aggregates[aggregate.id] = aggregate
            self.saved_kwargs.update(kwargs)
        else:  # an event saved on its own, or another kind of aggregate: the library's way
            super().collect_events(*objs, **kwargs)


def _fold(initial: Handoff | None, events: Iterable[Handoff.Event]) -> Handoff | None:
    """The library's ``project_aggregate`` without its per-event runtime protocol check
    (every stored event of a handoff is a ``Handoff.Event``, whose ``mutate`` folds it)."""
    aggregate = initial
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _under_current_protocol(
    command: Callable[Concatenate[Ledger, P], T],
) -> Callable[Concatenate[Ledger, P], T]:
    """``command``, decided again if the protocol it was decided under was outdated.

    Where the store's watch may announce a new version an instant late (PostgreSQL),
    this is what keeps a command strict: its save is guarded (refused if a newer
    version was recorded first, :class:`ProtocolMoved`), and a refusal that a newer
    version might lift is checked against it; either way the command runs again under
    the newest version. Where the watch is strict (SQLite), neither can happen.
    """

    @functools.wraps(command)
    def decided(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if getattr(self._decision, "head", None) is not None:  # inside another: it decides
            return command(self, *args, **kwargs)
        for _ in range(MAX_ATTEMPTS):
            self._decision.head = self._protocol_head
            try:
                return command(self, *args, **kwargs)
            except ProtocolMoved:
                self._protocol_moved()
            except (Refused, InvalidInput) as refusal:
                if (
                    isinstance(refusal, UnknownHandoff)
                    or self.protocol_watch.strict
                    or not self._protocol_moved()
                ):
                    raise
            finally:
                self._decision.head = None
        raise ConcurrencyConflict("the protocol changed while this command ran; try again")

    return decided


def _traced_send(
    send: Callable[Concatenate[Ledger, P], SendOutcome],
) -> Callable[Concatenate[Ledger, P], SendOutcome]:
    """``send`` with its span when this ledger traces (``follow-up`` for a child)."""

    def traced(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> SendOutcome:
        if self.tracing is None:
            return send(self, *args, **kwargs)
        started = tracing.started(self.clock)
        op = "send" if kwargs.get("parent_id") is None else "follow-up"
        try:
            outcome = send(self, *args, **kwargs)
        except Exception as error:
            sender = kwargs.get("sender")
            self.tracing.refused(
                op, None, by=sender if isinstance(sender, str) else None, started=started,
                error=error,
            )  # fmt: skip
            raise
        self.tracing.command(
            op, outcome.handoff, by=outcome.handoff.sender, started=started,
            recorded=not outcome.duplicate, duplicate=outcome.duplicate,
        )  # fmt: skip
        return outcome

    traced.__doc__ = send.__doc__
    traced.__name__ = send.__name__
    return traced


class Ledger(Application[UUID]):
    """The handoff ledger's use cases over one event store."""

    name = "Ledger"

    def __init__(self, env: EnvType | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock: Clock = clock or SystemClock()
        self._protocols: dict[int, ProtocolVersion] = {}
        self._protocol_head = 0
        self._protocol_lock = threading.RLock()
        self.protocol_watch: ProtocolWatch = AlwaysCheck()
        """Says when the protocol must be re-read (the store sets its own: ``store/``)."""
        self._decision = threading.local()
        """The protocol head a command of this thread started under (``head``)."""
        self.handoffs = HandoffCache()
        """Recently used handoffs, fast-forwarded rather than reloaded (``caches.py``)."""
        self.on_saved: list[Callable[[Sequence[Any]], None]] = []
        """Called (on the saving thread, with the domain events just committed) after
        this process saved events: lets a server wake the requests waiting on those
        handoffs at once, with their new events, instead of at their next poll."""
        self.tracing: Tracing | None = tracing.from_environment()
        """This process's spans (:mod:`.tracing`: off unless ``OTEL_*`` variables ask);
        tests set their own, with an in-memory exporter."""
        self.lost_races = 0
        """How many times a command of this ledger lost a race (another command on the
        same handoff was recorded first) and was re-run against the winner's state."""

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """``Application.save``, collecting events without runtime Protocol checks.

        The library's ``ProcessingEvent.collect_events`` asks ``isinstance`` of two
        ``typing`` runtime protocols for every object saved, which walks the protocol's
        attributes each time: about a tenth of a lifecycle's CPU here
        (docs/performance.md). The ledger saves only aggregates of its own, which are
        ``Aggregate`` subclasses: a plain class check says the same.
        """
        processing_event = _AggregatesCollected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, kept as it does
        return recordings

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if self.on_saved:
            saved = [recording.domain_event for recording in recordings]
            for listener in list(self.on_saved):
                listener(saved)

    def close(self) -> None:
        """Close the store's connections and the protocol watch's."""
        self.protocol_watch.close()
        super().close()

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder, writing the same bytes faster (``transcoding.py``)."""
        transcoder = LedgerTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Use only the settings given (from the store URL), never stray process env vars."""
        return Environment(name, dict(env or {}))

    # ------------------------------------------------------------------ protocol

    def apply_protocol(self, text: str, *, source: str, by: str = "admin") -> ProtocolVersion:
        """Check a protocol file and put it in force as the next version."""
        parsed = Protocol.parse(text, source)
        for name in parsed.agents:
            # Checked when a file is applied, not when a stored version is read back:
            # a version applied before names were reserved still loads.
            try:
                rules.require_unreserved(name, "agent")
            except InvalidInput as exc:
                raise ProtocolInvalid(f"{source}: agents.{name}: {exc.message}") from None
        for _ in range(MAX_ATTEMPTS):
            try:
                record: ProtocolRecord = self.repository.get(PROTOCOL_ID)
            except AggregateNotFoundError:
                record = ProtocolRecord.first(text=text, source=source, by=by, now=self.clock.now())
            else:
                record.apply_text(text=text, source=source, by=by, now=self.clock.now())
            try:
                self.save(record)
            except IntegrityError:
                continue
            # Forced: this process's own write need not trip its watch (SQLite).
            self._read_newer_protocols()
            current = self._protocols.get(self._protocol_head)
            assert current is not None
            return current
        raise ConcurrencyConflict("another protocol was applied at the same moment; try again")

    def protocol_in_force(self) -> ProtocolVersion | None:
        """The newest protocol version, or None while free-form handoffs are allowed.

        Kept between calls; re-read only when :attr:`protocol_watch` says another
        process may have applied a version since (docs/architecture.md "Caches").
        """
        with self._protocol_lock:  # a "no" from the watch must not overtake a re-read
            if self.protocol_watch.may_have_changed():
                self._read_newer_protocols()
            return self._protocols.get(self._protocol_head)

    def _read_newer_protocols(self) -> bool:
        """Read the versions recorded after the newest one known; True if there were any."""
        with self._protocol_lock:
            newer = list(self.events.get(PROTOCOL_ID, gt=self._protocol_head))
            for event in newer:
                self._remember_protocol(event)
        return bool(newer)

    def _protocol_moved(self) -> bool:
        """Whether a version newer than the one known has been recorded (read, not
        watched: a refusal or a refused save asks for certainty)."""
        with self._protocol_lock:
            self.protocol_watch.may_have_changed()  # consumed: what it says is read now
            return self._read_newer_protocols()

    def protocol_version(self, version: int) -> ProtocolVersion:
        """A given past version (the rules a handoff was created under)."""
        if version not in self._protocols:
            for event in self.events.get(PROTOCOL_ID, lte=version):
                if event.originator_version not in self._protocols:
                    self._remember_protocol(event)
        try:
            return self._protocols[version]
        except KeyError:
            raise InvalidInput(f"protocol: there is no version {version}") from None

    def _guard(self) -> dict[str, int]:
        """The save's guard: refuse it if a version newer than the one this command was
        decided under is recorded (only where the watch may be late; see
        :func:`_under_current_protocol`)."""
        head = getattr(self._decision, "head", None)
        if head is None or self.protocol_watch.strict:
            return {}
        return {"protocol_head": head}

    def _remember_protocol(self, event: DomainEventProtocol[UUID]) -> None:
        assert isinstance(event, ProtocolRecord.Created | ProtocolRecord.Applied)
        version = event.originator_version
        self._protocols[version] = ProtocolVersion(
            version=version,
            protocol=Protocol.parse(event.text, event.source),
            text=event.text,
            source=event.source,
            sha256=event.sha256,
            applied_at=event.timestamp,
            applied_by=event.by,
        )
        self._protocol_head = max(self._protocol_head, version)

    # ------------------------------------------------------------------ commands

    @_traced_send
    @_under_current_protocol
    def send(
        self,
        *,
        sender: str,
        to: str | None = None,
        kind: str | None = None,
        trigger: str | None = None,
        priority: Priority | None = None,
        payload: dict[str, Any] | None = None,
        ack_within: timedelta | None = None,
        deadline: timedelta | datetime | None = None,
        escalate_to: list[str] | None = None,
        key: str | None = None,
        parent_id: UUID | None = None,
        as_sent: dict[str, Any] | None = None,
        receivers_kind: bool = False,
    ) -> SendOutcome:
        """Create a handoff, or return the one this sender's ``key`` already created.

        An empty key is refused, on every face: it is a caller's mistake, not "no key".
        ``as_sent`` keeps the message as another protocol carried it (the A2A face);
        ``receivers_kind``: without a ``kind``, the one kind the protocol in force routes
        to ``to``, if it routes exactly one.
        """
        rules.require_agent_name(sender, "from")  # both make the id: checked first
        rules.require_unreserved(sender, "from")
        rules.require_storable(key, "key")
        if key is not None:
            if not key.strip():
                raise InvalidInput("key: must not be empty")
            existing = self._find(Handoff.id_for_key(sender, key))
            if existing is not None:
                return SendOutcome(existing, duplicate=True)
        current = self.protocol_in_force()
        resolved = resolve_send(
            current.protocol if current else None,
            sender=sender,
            to=to,
            kind=kind,
            trigger=trigger,
            priority=priority,
            payload=payload,
            ack_within=ack_within,
            deadline=deadline,
            escalate_to=escalate_to,
            receivers_kind=receivers_kind,
        )
        deadline = resolved.deadline
        parent = None
        if parent_id is not None:
            parent = self._find(parent_id)
            if parent is None:
                raise InvalidInput(f"parent: no handoff has id {parent_id}")
        handoff = Handoff.request(
            now=self.clock.now(),
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
            protocol_version=current.version if current else None,
            as_sent=as_sent,
        )
        try:
            recordings = self.save(handoff, **self._guard())
        except IntegrityError:
            # Only a same-key send can collide on a new id: the other one won.
            existing = self._find(handoff.id)
            if existing is None:
                raise
            return SendOutcome(existing, duplicate=True)
        self.handoffs.keep(handoff)
        recorded = tuple(e for r in recordings if isinstance(e := r.domain_event, Handoff.Event))
        return SendOutcome(handoff, duplicate=False, recorded=recorded)

    @_under_current_protocol
    def ack(
        self,
        handoff_id: UUID,
        *,
        by: str,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
        worker: str | None = None,
        fallback_update: timedelta | None = None,
    ) -> AckOutcome:
        """The receiver takes the handoff into its queue (a repeat is a no-op).

        Without ``next_update`` the kind's ``update_every`` is the promise, else
        ``fallback_update`` (if any). ``worker`` names which of the receiver's workers
        took it (``handoff next``).
        """

        def ack(handoff: Handoff) -> bool:
            spec = self.kind_spec(handoff)
            promise = next_update or (spec.update_every if spec else None) or fallback_update
            return handoff.ack(
                by=by, now=self.clock.now(), eta=eta, next_update=promise, worker=worker
            )

        handoff, recorded, position = self._act_logged("ack", handoff_id, by, ack)
        return AckOutcome(handoff, recorded, position if recorded else None)

    @_under_current_protocol
    def take_over(
        self,
        handoff_id: UUID,
        *,
        by: str,
        worker: str,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
    ) -> Handoff:
        """Another worker of the receiver takes on work whose update promise is overdue."""
        return self._act(
            "take-over",
            handoff_id,
            by,
            lambda h: h.take_over(
                by=by, now=self.clock.now(), worker=worker, eta=eta, next_update=next_update
            ),
        )[0]

    @_under_current_protocol
    def report_status(
        self,
        handoff_id: UUID,
        *,
        by: str,
        status: Status,
        message: str | None = None,
        eta: timedelta | None = None,
        next_update: timedelta | None = None,
    ) -> Handoff:
        """The receiver broadcasts where the work stands."""
        handoff, _ = self._act(
            "status",
            handoff_id,
            by,
            lambda h: h.report_status(
                by=by,
                now=self.clock.now(),
                status=status,
                message=message,
                eta=eta,
                next_update=next_update,
            ),
        )
        return handoff

    @_under_current_protocol
    def complete(
        self, handoff_id: UUID, *, by: str, result: dict[str, Any] | None = None
    ) -> Handoff:
        """The receiver finishes the work (the result is checked against the kind's schema)."""

        def complete(handoff: Handoff) -> None:
            spec = self.kind_spec(handoff)
            if spec is not None:
                spec.validate_result(result)
            handoff.complete(by=by, now=self.clock.now(), result=result)

        return self._act("complete", handoff_id, by, complete)[0]

    @_under_current_protocol
    def fail(
        self, handoff_id: UUID, *, by: str, reason: str, result: dict[str, Any] | None = None
    ) -> Handoff:
        """The receiver tried and could not finish (a result, if any, is not schema-checked:
        it is what the attempt left, not the kind's answer)."""
        return self._act(
            "fail",
            handoff_id,
            by,
            lambda h: h.fail(by=by, now=self.clock.now(), reason=reason, result=result),
        )[0]

    @_under_current_protocol
    def reply(
        self,
        handoff_id: UUID,
        *,
        by: str,
        message: str,
        data: dict[str, Any] | None = None,
        admin: bool = False,
        as_sent: dict[str, Any] | None = None,
    ) -> Handoff:
        """The sender, an escalation target or an admin answers the receiver."""
        self.require_declared(by, "as")
        is_admin = admin or self.is_admin(by)
        return self._act(
            "reply",
            handoff_id,
            by,
            lambda h: h.reply(
                by=by,
                now=self.clock.now(),
                message=message,
                data=data,
                is_admin=is_admin,
                as_sent=as_sent,
            ),
        )[0]

    @_under_current_protocol
    def decline(self, handoff_id: UUID, *, by: str, reason: str) -> Handoff:
        """The receiver refuses the work."""
        return self._act(
            "decline",
            handoff_id,
            by,
            lambda h: h.decline(by=by, now=self.clock.now(), reason=reason),
        )[0]

    @_under_current_protocol
    def cancel(self, handoff_id: UUID, *, by: str, reason: str, admin: bool = False) -> Handoff:
        """The sender (or an admin) withdraws the work.

        ``admin`` says the caller proved admin rights another way (an admin token);
        the protocol's own admins need no such proof.
        """
        is_admin = admin or self.is_admin(by)
        return self._act(
            "cancel",
            handoff_id,
            by,
            lambda h: h.cancel(by=by, now=self.clock.now(), reason=reason, is_admin=is_admin),
        )[0]

    @_under_current_protocol
    def reassign(
        self, handoff_id: UUID, *, by: str, to: str, reason: str, admin: bool = False
    ) -> Handoff:
        """The sender (or an admin, see :meth:`cancel`) moves the work to another receiver."""
        is_admin = admin or self.is_admin(by)
        current = self.protocol_in_force()
        if current is not None:
            current.protocol.agent(to, "to")
        return self._act(
            "reassign",
            handoff_id,
            by,
            lambda h: h.reassign(
                by=by, now=self.clock.now(), to=to, reason=reason, is_admin=is_admin
            ),
        )[0]

    @_under_current_protocol
    def add_note(self, handoff_id: UUID, *, by: str, message: str) -> Handoff:
        """Anyone adds a note: logged, no obligations (a declared agent, under a protocol)."""
        rules.require_unreserved(by, "as")
        self.require_declared(by, "as")
        return self._act(
            "note",
            handoff_id,
            by,
            lambda h: h.add_note(by=by, now=self.clock.now(), message=message),
        )[0]

    def add_ledger_note(self, handoff_id: UUID, *, by: str, message: str) -> Handoff:
        """A note by one of the ledger's own actors (:data:`SYSTEM_AGENTS`): the reactor's.

        The one way a note is recorded under a reserved name; no face reaches it.
        """
        if by not in SYSTEM_AGENTS:
            raise InvalidInput(f"as: {by!r} is not one of the ledger's own actors")
        return self._act(
            "note",
            handoff_id,
            by,
            lambda h: h.add_note(by=by, now=self.clock.now(), message=message),
            as_ledger=True,
        )[0]

    def escalate(
        self,
        handoff_id: UUID,
        *,
        by: str,
        reason: EscalationReason,
        notified: list[str],
        level: int = 1,
        timer_due: datetime | None = None,
        message: str | None = None,
    ) -> Handoff:
        """Record an escalation (the reactor's; each timer escalates once per level)."""
        return self._act(
            "escalate",
            handoff_id,
            by,
            lambda h: h.escalate(
                by=by,
                now=self.clock.now(),
                reason=reason,
                notified=notified,
                level=level,
                timer_due=timer_due,
                message=message,
            ),
            as_ledger=True,
        )[0]

    def fire_escalation(
        self,
        handoff_id: UUID,
        *,
        by: str,
        reason: EscalationReason,
        timer_due: datetime,
        level: int,
        repeat: int = 0,
    ) -> Handoff:
        """Take the next step of a broken promise's escalation policy (the reactor's)."""

        def fire(handoff: Handoff) -> str | None:
            return handoff.fire_escalation(
                by=by,
                now=self.clock.now(),
                policy=self.escalation_policy(handoff),
                reason=reason,
                timer_due=timer_due,
                level=level,
                repeat=repeat,
            )

        return self._act("escalate", handoff_id, by, fire, as_ledger=True)[0]

    def fire_escalations(
        self,
        steps: Sequence[DueStep],
        *,
        by: str,
        loaded: Mapping[UUID, Handoff] | None = None,
    ) -> list[StepOutcome]:
        """Take many escalation steps in one transaction; the reactor's fast path.

        Each handoff is loaded and its step checked by the aggregate as in
        :meth:`fire_escalation`; the steps that pass are saved together. If the
        transaction conflicts (another reactor, or an agent acting at that moment),
        every step is retried alone, so the outcome is the same as one by one.

        ``loaded``: the steps' handoffs, already loaded together (the reactor reads a
        batch's in one query, ``store/loading.py``); an id missing from it is not found.
        Two steps of one handoff then act on the same copy, and its events are saved
        together (the reactor gives each handoff one step per batch, so the log keeps
        the steps in due order). Handoffs passed in are not kept in the handoff cache
        once saved: a reactor's batches of thousands would only push out the handoffs
        that commands use.
        """
        started = tracing.started(self.clock) if self.tracing is not None else None
        now = self.clock.now()
        outcomes: list[StepOutcome] = []
        changed: dict[UUID, Handoff] = {}
        for step in steps:
            handoff = self._find(step.handoff_id) if loaded is None else loaded.get(step.handoff_id)
            if handoff is None:
                outcomes.append(StepOutcome(step, None, f"handoff {step.handoff_id} not found"))
                continue
            try:
                handoff.fire_escalation(
                    by=by,
                    now=now,
                    policy=self.escalation_policy(handoff),
                    reason=step.reason,
                    timer_due=step.timer_due,
                    level=step.level,
                    repeat=step.repeat,
                )
            except Refused as refusal:
                outcomes.append(StepOutcome(step, None, refusal.message))
                continue
            outcomes.append(StepOutcome(step, handoff, None))
            changed[handoff.id] = handoff
        if not changed:
            return outcomes
        try:
            self.save(*changed.values())
        except IntegrityError:
            for handoff_id in changed:
                self.handoffs.drop(handoff_id)
            self.lost_races += 1
            log.info("lost a race on a batch of %d escalation steps: one at a time", len(steps))
            return [self._fire_alone(outcome.step, by) for outcome in outcomes]
        if loaded is None:
            for handoff in changed.values():
                self.handoffs.keep(handoff)
        if self.tracing is not None and started is not None:
            for handoff in changed.values():  # each in its own chain's trace; the batch's time
                self.tracing.command("escalate", handoff, by=by, started=started, recorded=True)
        return outcomes

    def _fire_alone(self, step: DueStep, by: str) -> StepOutcome:
        try:
            handoff = self.fire_escalation(
                step.handoff_id,
                by=by,
                reason=step.reason,
                timer_due=step.timer_due,
                level=step.level,
                repeat=step.repeat,
            )
        except (Refused, UnknownHandoff) as refusal:
            return StepOutcome(step, None, refusal.message)
        return StepOutcome(step, handoff, None)

    def escalation_policy(self, handoff: Handoff) -> EscalationPolicy:
        """The policy in the protocol version the handoff was created under.

        Its kind's levels, else the protocol's default levels, else none (every
        timer then gets one level: notify the escalation targets, else the sender).
        """
        if handoff.protocol_version is None:
            return EscalationPolicy()
        rules = self.protocol_version(handoff.protocol_version).protocol
        return EscalationPolicy(rules.escalation_levels(handoff.kind))

    def require_declared(self, agent: str, field: str) -> None:
        """Under a protocol, refuse an agent it does not declare (:class:`UnknownAgent`).

        The ledger's own actors (the reactor) need no declaration.
        """
        if agent in SYSTEM_AGENTS:
            return
        current = self.protocol_in_force()
        if current is not None:
            current.protocol.agent(agent, field)

    @_under_current_protocol
    def watch(self, handoff_id: UUID, *, by: str) -> tuple[UUID, bool]:
        """Subscribe ``by`` to the chain of ``handoff_id``; returns (chain_id, newly watched)."""
        rules.require_unreserved(by, "as")
        self.require_declared(by, "as")
        handoff = self.get(handoff_id)
        watch = ChainWatch.start(chain_id=handoff.chain_id, agent=by, now=self.clock.now())
        try:
            self.save(watch)
        except IntegrityError:
            return handoff.chain_id, False
        return handoff.chain_id, True

    def is_admin(self, agent: str) -> bool:
        """Admins are declared in the protocol in force (``admin = true``)."""
        current = self.protocol_in_force()
        return current is not None and current.protocol.is_admin(agent)

    # ------------------------------------------------------------------ queries

    def get(self, handoff_id: UUID, *, as_of: datetime | None = None) -> Handoff:
        """One handoff as it stands now, or as it stood at ``as_of``."""
        if as_of is None:
            handoff = self._find(handoff_id)
            if handoff is None:
                raise UnknownHandoff(f"id: no handoff has id {handoff_id}")
            return handoff
        events = self.history(handoff_id, as_of=as_of)
        if not events:
            raise UnknownHandoff(
                f"id: handoff {handoff_id} did not exist yet at {as_of.isoformat()}"
            )
        folded: Handoff | None = None
        for event in events:
            folded = event.mutate(folded)
        assert isinstance(folded, Handoff)
        return folded

    def history(self, handoff_id: UUID, *, as_of: datetime | None = None) -> list[Handoff.Event]:
        """The handoff's events, oldest first (those recorded at or before ``as_of``).

        A handoff's recorded times never go backwards (the aggregate clamps them), so
        its events at or before ``as_of`` are the ones before its first event after
        it; stopping there also keeps an event stored before the clamp existed, and
        stamped earlier than the one before it, out of a history that must fold.
        """
        events: list[Handoff.Event] = []
        for event in self.events.get(handoff_id):
            assert isinstance(event, Handoff.Event)
            if as_of is not None and event.timestamp > as_of:
                break
            events.append(event)
        if not events and as_of is None:
            raise UnknownHandoff(f"id: no handoff has id {handoff_id}")
        return events

    def head(self) -> int:
        """The log's last readable position (0 while it is empty): no record can be
        committed at or below it any more (SQLite appends in position order; on
        PostgreSQL it is the last position below the horizon, store/log_format.py)."""
        return self.recorder.max_notification_id() or 0

    def read_log(
        self,
        *,
        after: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[LoggedEvent]:
        """The handoff log, oldest first: entries after position ``after``, within times.

        Times filter by each event's recorded time over the whole log from ``after``:
        log order is commit order, not time order (a clock stepped back, two hosts'
        clocks apart), so an event past ``until`` says nothing about the ones after it.
        """
        start = after + 1
        emitted = 0
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=LOG_PAGE, topics=HANDOFF_TOPICS
            )
            to_domain = self.mapper.to_domain_event
            for notification in page:
                event = to_domain(notification)
                assert isinstance(event, Handoff.Event)
                if until is not None and event.timestamp > until:
                    continue
                if since is None or event.timestamp >= since:
                    yield LoggedEvent(notification.id, event)
                    emitted += 1
                    if limit is not None and emitted >= limit:
                        return
            if len(page) < LOG_PAGE:
                return
            start = page[-1].id + 1

    def read_log_of(
        self, kinds: Sequence[type[Handoff.Event]], *, after: int, up_to: int, limit: int
    ) -> list[LoggedEvent]:
        """The log's entries of these event classes only, oldest first: positions after
        ``after`` up to ``up_to`` (inclusive, e.g. :meth:`head`), at most ``limit``.

        The store filters by topic, so the other events are neither sent nor decoded
        (the reactor looks for closings among thousands of its own escalations).
        """
        page = self.recorder.select_notifications(
            start=after + 1, limit=limit, stop=up_to, topics=tuple(map(get_topic, kinds))
        )
        entries = []
        for notification in page:
            event = self.mapper.to_domain_event(notification)
            assert isinstance(event, Handoff.Event)
            entries.append(LoggedEvent(notification.id, event))
        return entries

    def read_log_as_of(self, until: datetime) -> Iterator[LoggedEvent]:
        """Every handoff's events recorded at or before ``until``, in log order.

        The whole log is read. Per handoff this is :meth:`history` with ``as_of``:
        once one of its events is past ``until``, its later events are left out too
        (the same events, since a handoff's recorded times never go backwards), so
        folding what is yielded never skips a version.
        """
        stopped: set[UUID] = set()
        for entry in self.read_log():
            handoff_id = entry.event.originator_id
            if handoff_id in stopped:
                continue
            if entry.event.timestamp > until:
                stopped.add(handoff_id)
                continue
            yield entry

    # ------------------------------------------------------------------ helpers

    def _find(self, handoff_id: UUID) -> Handoff | None:
        """The handoff as it stands now, a copy of its own for the caller.

        From the kept copy fast-forwarded with the events recorded after its version
        (one query, those events only), else loaded whole; kept for next time.
        """
        kept = self.handoffs.checkout(handoff_id)
        if kept is not None:
            newer = self.events.get(handoff_id, gt=kept.version)
            handoff = _fold(kept, newer)  # type: ignore[arg-type]  # a handoff's events
            assert isinstance(handoff, Handoff)
            if handoff.version > kept.version:
                self.handoffs.keep(handoff)
            return handoff
        try:
            found: object = self.repository.get(handoff_id, projector_func=_fold)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, Handoff):
            return None
        self.handoffs.keep(found)
        return found

    def kind_spec(self, handoff: Handoff) -> KindSpec | None:
        """The kind's rules in the protocol version the handoff was created under."""
        if handoff.kind is None or handoff.protocol_version is None:
            return None
        rules = self.protocol_version(handoff.protocol_version).protocol
        return rules.kinds.get(handoff.kind)

    def _act(
        self,
        op: str,
        handoff_id: UUID,
        by: str,
        command: Callable[[Handoff], T],
        *,
        as_ledger: bool = False,
    ) -> tuple[Handoff, T]:
        """Run ``command`` on a fresh copy; on a lost race, re-run it on a fresher one.

        Re-running re-applies every rule to the state the winner left, so a command
        that is no longer valid (completing a handoff someone else just completed) is
        refused with the reason, and one that still is (a note) goes through.
        ``as_ledger`` marks the ledger's own path (escalations, the reactor's notes),
        the only one that may act under a reserved name. ``op`` names the command's
        span (``handoff ack``) when this ledger traces.
        """
        handoff, outcome, _ = self._act_logged(op, handoff_id, by, command, as_ledger=as_ledger)
        return handoff, outcome

    def _act_logged(
        self,
        op: str,
        handoff_id: UUID,
        by: str,
        command: Callable[[Handoff], T],
        *,
        as_ledger: bool = False,
    ) -> tuple[Handoff, T, int | None]:
        """:meth:`_act`, and the log position of the last event it saved (None: none)."""
        if self.tracing is None:
            return self._attempt(handoff_id, by, command, as_ledger, [])
        started = tracing.started(self.clock)
        loaded: list[Handoff] = []
        try:
            handoff, outcome, position = self._attempt(handoff_id, by, command, as_ledger, loaded)
        except Exception as error:
            if loaded:
                self.tracing.command(
                    op, loaded[-1], by=by, started=started, recorded=False, error=error
                )
            else:
                self.tracing.refused(op, handoff_id, by=by, started=started, error=error)
            raise
        self.tracing.command(op, handoff, by=by, started=started, recorded=position is not None)
        return handoff, outcome, position

    def _attempt(
        self,
        handoff_id: UUID,
        by: str,
        command: Callable[[Handoff], T],
        as_ledger: bool,
        loaded: list[Handoff],
    ) -> tuple[Handoff, T, int | None]:
        """The retry loop of :meth:`_act_logged`; ``loaded`` gets each copy it loads."""
        if not as_ledger:
            rules.require_unreserved(by, "as")
        lost_race = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            handoff = self.get(handoff_id)
            loaded.append(handoff)
            try:
                outcome = command(handoff)
            except NotPermitted:
                # An agent the protocol does not know is bad input, not a refusal.
                self.require_declared(by, "as")
                raise
            except Refused as refusal:
                if lost_race:
                    refusal.message = f"lost a race to another command: {refusal.message}"
                    refusal.args = (refusal.message,)
                raise
            if not handoff.pending_events:
                return handoff, outcome, None
            try:
                recordings = self.save(handoff, **({} if as_ledger else self._guard()))
            except IntegrityError:
                self.handoffs.drop(handoff_id)  # stale: the next attempt loads it whole
                lost_race = True
                self.lost_races += 1
                log.info(
                    "lost a race on handoff %s (attempt %d): re-running against the winner's state",
                    handoff_id,
                    attempt,
                )
                time.sleep(random.uniform(0, RETRY_JITTER_SECONDS * attempt))
                continue
            self.handoffs.keep(handoff)
            return handoff, outcome, recordings[-1].notification.id if recordings else None
        raise ConcurrencyConflict(
            f"handoff {handoff_id} changed {MAX_ATTEMPTS} times while this command ran; try again"
        )
