"""Random command sequences through the aggregate keep PRODUCT.md's invariants.

Hypothesis drives any agent issuing any command at any time; after every step the
machine checks the rules that must always hold, whatever happened before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sizes import soak_case

from handoff_ledger.domain.errors import HandoffError, InvalidTransition, NotPermitted
from handoff_ledger.domain.escalation import EscalationPolicy, Step
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.integrity import event_digest
from handoff_ledger.domain.protocol import EscalationLevel
from handoff_ledger.domain.states import OPEN_STATES, TERMINAL_STATES, State, Status
from handoff_ledger.domain.timers import EscalationReason, Timer

AGENTS = ["inbox_monitor", "code_agent", "support_agent", "backup_agent", "human:me"]
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
RECEIVER_EVENTS = (
    Handoff.Acked,
    Handoff.TakenOver,
    Handoff.StatusReported,
    Handoff.Completed,
    Handoff.Declined,
    Handoff.Failed,
)
CLOSING_EVENTS = (Handoff.Completed, Handoff.Declined, Handoff.Cancelled, Handoff.Failed)

POLICY = EscalationPolicy(
    levels=(
        EscalationLevel(on=EscalationReason.ACK_TIMEOUT, after=None, notify=("human:me",)),
        EscalationLevel(
            on=None,
            after=timedelta(minutes=20),
            notify=("human:me",),
            action="renotify",
            every=timedelta(minutes=7),
        ),
        EscalationLevel(on=None, after=timedelta(minutes=45), notify=("backup_agent",)),
    )
)
"""Three steps on ack_timeout (one renotifying); the other reasons get one level."""

agents = st.sampled_from(AGENTS)
minutes = st.integers(min_value=1, max_value=120)
maybe_duration = st.none() | st.integers(min_value=1, max_value=180).map(
    lambda m: timedelta(minutes=m)
)


class HandoffMachine(RuleBasedStateMachine):
    """One handoff, many agents, random commands, simulated time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.events: list[Handoff.Event] = []
        self.receivers: list[str] = []  # receiver in force when each event was recorded
        self.admin_replies: set[int] = set()  # indexes of replies made with admin rights
        self.handoff: Handoff

    @initialize(
        receiver=st.sampled_from(AGENTS[1:]),
        ack_within=maybe_duration,
        deadline=maybe_duration,
    )
    def create(
        self, receiver: str, ack_within: timedelta | None, deadline: timedelta | None
    ) -> None:
        self.handoff = Handoff.request(
            now=self.now,
            sender="inbox_monitor",
            receiver=receiver,
            ack_within=ack_within,
            deadline_within=deadline,
            escalate_to=["human:me"],
        )
        self._collect()

    def _collect(self) -> None:
        for event in self.handoff.collect_events():
            assert isinstance(event, Handoff.Event)
            self.events.append(event)
            self.receivers.append(self.handoff.receiver)

    def _attempt(self, command: object, *, permitted: bool, must: bool | None = None) -> None:
        """Run a command; a refusal must be the right kind and leave no event behind.

        ``must`` (default: permitted and the handoff open) says the rules leave no
        ground to refuse it: then any refusal fails the test.
        """
        was_terminal = self.handoff.state in TERMINAL_STATES
        if must is None:
            must = permitted and self.handoff.state in OPEN_STATES
        refused: HandoffError | None = None
        try:
            assert callable(command)
            command()
        except HandoffError as refusal:
            refused = refusal
        if refused is None:
            assert permitted
            assert not was_terminal
        else:
            assert not self.handoff.pending_events
            if isinstance(refused, NotPermitted):
                assert not permitted
            else:
                assert not must, f"refused although the rules allow it: {refused}"
        self._collect()

    def _is_receiver(self, by: str) -> bool:
        return by == self.handoff.receiver

    def _is_sender_or_admin(self, by: str, admin: bool) -> bool:
        return by == self.handoff.sender or admin

    @rule(delta=minutes)
    def time_passes(self, delta: int) -> None:
        self.now += timedelta(minutes=delta)

    @rule(
        by=agents,
        eta=maybe_duration,
        next_update=maybe_duration,
        worker=st.none() | st.sampled_from(["w1", "w2"]),
    )
    def ack(
        self, by: str, eta: timedelta | None, next_update: timedelta | None, worker: str | None
    ) -> None:
        was_acked = self.handoff.acked_at is not None
        result: list[bool] = []
        self._attempt(
            lambda: result.append(
                self.handoff.ack(
                    by=by, now=self.now, eta=eta, next_update=next_update, worker=worker
                )
            ),
            permitted=self._is_receiver(by),
        )
        if result:
            assert result[0] is (not was_acked)

    @rule(by=agents, status=st.sampled_from(list(Status)), next_update=maybe_duration)
    def report(self, by: str, status: Status, next_update: timedelta | None) -> None:
        self._attempt(
            lambda: self.handoff.report_status(
                by=by, now=self.now, status=status, next_update=next_update
            ),
            permitted=self._is_receiver(by),
        )

    @rule(by=agents)
    def complete(self, by: str) -> None:
        self._attempt(
            lambda: self.handoff.complete(by=by, now=self.now, result={"by": by}),
            permitted=self._is_receiver(by),
        )

    @rule(by=agents)
    def decline(self, by: str) -> None:
        self._attempt(
            lambda: self.handoff.decline(by=by, now=self.now, reason="busy"),
            permitted=self._is_receiver(by),
        )

    @rule(by=agents, worker=st.sampled_from(["w1", "w2"]), next_update=maybe_duration)
    def take_over(self, by: str, worker: str, next_update: timedelta | None) -> None:
        before = self.handoff.worker
        count = len(self.events)
        self._attempt(
            lambda: self.handoff.take_over(
                by=by, now=self.now, worker=worker, next_update=next_update
            ),
            permitted=self._is_receiver(by),
            must=False,  # only from another worker whose update is overdue
        )
        if len(self.events) > count:  # taken over: only from another worker, once overdue
            event = self.events[-1]
            assert isinstance(event, Handoff.TakenOver)
            assert (event.from_worker, event.worker) == (before, worker)
            assert before != worker

    @rule(by=agents)
    def fail(self, by: str) -> None:
        self._attempt(
            lambda: self.handoff.fail(by=by, now=self.now, reason="tried", result={"log": by}),
            permitted=self._is_receiver(by),
        )

    @rule(by=agents, admin=st.booleans())
    def reply(self, by: str, admin: bool) -> None:
        before = self.handoff.state
        count = len(self.events)
        may = by != self.handoff.receiver and (
            by == self.handoff.sender or by in self.handoff.escalation_targets or admin
        )
        self._attempt(
            lambda: self.handoff.reply(
                by=by, now=self.now, message="try the staging key", data={"k": 1}, is_admin=admin
            ),
            permitted=may,
        )
        if len(self.events) == count:
            return
        if admin:
            self.admin_replies.add(count)
        assert self.handoff.state is (State.IN_PROGRESS if before is State.BLOCKED else before)
        every = self.handoff.update_every
        if every and self.handoff.acked_at is not None:
            assert self.handoff.update_due == self.events[-1].timestamp + timedelta(seconds=every)

    @rule(by=agents, admin=st.booleans())
    def cancel(self, by: str, admin: bool) -> None:
        self._attempt(
            lambda: self.handoff.cancel(by=by, now=self.now, reason="dup", is_admin=admin),
            permitted=self._is_sender_or_admin(by, admin),
        )

    @rule(by=agents, to=agents, admin=st.booleans())
    def reassign(self, by: str, to: str, admin: bool) -> None:
        self._attempt(
            lambda: self.handoff.reassign(
                by=by, now=self.now, to=to, reason="silent", is_admin=admin
            ),
            permitted=self._is_sender_or_admin(by, admin),
            must=self._is_sender_or_admin(by, admin)
            and self.handoff.state in OPEN_STATES
            and to not in (self.handoff.receiver, self.handoff.sender),  # those are refused
        )

    @rule(by=agents)
    def note(self, by: str) -> None:
        version = self.handoff.version
        self.handoff.add_note(by=by, now=self.now, message="fyi")
        assert self.handoff.version == version + 1
        self._collect()

    @rule()
    def reactor_escalates_due_timers(self) -> None:
        for timer in self.handoff.due_timers(self.now):
            step = self.handoff.next_step(timer)
            if step is None or step.due > self.now:
                continue
            following = POLICY.after(timer.reason, timer.due, step, self.now)

            def fire(t: Timer = timer, s: Step = step, n: Step | None = following) -> None:
                self.handoff.escalate(
                    by="reactor",
                    now=self.now,
                    reason=t.reason,
                    notified=["human:me"],
                    timer_due=t.due,
                    level=s.level,
                    repeat=s.repeat,
                    next_step=n,
                )

            self._attempt(fire, permitted=True)
            assert self.handoff.next_step(timer) == following
            # The same step of the same timer can never happen twice.
            with pytest.raises(InvalidTransition):
                fire()
            assert not self.handoff.pending_events

    # ------------------------------------------------------------------ invariants

    @invariant()
    def receiver_events_come_from_the_receiver(self) -> None:
        for event, receiver in zip(self.events, self.receivers, strict=True):
            if isinstance(event, RECEIVER_EVENTS):
                assert event.by == receiver

    @invariant()
    def replies_come_from_the_sender_an_escalation_target_or_an_admin(self) -> None:
        targets: set[str] = set()
        sender = ""
        for index, (event, receiver) in enumerate(zip(self.events, self.receivers, strict=True)):
            if isinstance(event, Handoff.Created):
                sender, targets = event.sender, set(event.escalate_to)
            elif isinstance(event, Handoff.Escalated):
                targets.update(event.notified)
            elif isinstance(event, Handoff.Replied):
                assert event.by != receiver
                assert event.by == sender or event.by in targets or index in self.admin_replies

    @invariant()
    def at_most_one_closing_event_and_only_notes_after_it(self) -> None:
        closing = [i for i, e in enumerate(self.events) if isinstance(e, CLOSING_EVENTS)]
        assert len(closing) <= 1
        if closing:
            after = self.events[closing[0] + 1 :]
            assert all(isinstance(e, Handoff.NoteAdded) for e in after)
            assert self.handoff.state in TERMINAL_STATES
            assert self.handoff.timers() == []

    @invariant()
    def one_ack_per_receiver_tenure(self) -> None:
        acks_since_assignment = 0
        for event in self.events:
            if isinstance(event, Handoff.Reassigned):
                acks_since_assignment = 0
            elif isinstance(event, Handoff.Acked):
                acks_since_assignment += 1
                assert acks_since_assignment == 1

    @invariant()
    def requested_means_not_acked(self) -> None:
        if self.handoff.state in OPEN_STATES:
            assert (self.handoff.state is State.REQUESTED) == (self.handoff.acked_at is None)

    @invariant()
    def each_timer_escalates_at_most_once_per_step(self) -> None:
        keys = [
            (e.reason, e.timer_due, e.level, e.repeat)
            for e in self.events
            if isinstance(e, Handoff.Escalated)
        ]
        assert len(keys) == len(set(keys))

    @invariant()
    def replaying_the_events_gives_the_same_handoff(self) -> None:
        replayed: Handoff | None = None
        for event in self.events:
            replayed = event.mutate(replayed)
        assert replayed is not None
        assert replayed.version == self.handoff.version == len(self.events)
        live = {k: v for k, v in vars(self.handoff).items() if k != "_pending_events"}
        again = {k: v for k, v in vars(replayed).items() if k != "_pending_events"}
        assert again == live

    @invariant()
    def every_event_is_chained_to_the_one_before_it(self) -> None:
        previous: str | None = None
        for event in self.events:
            assert event.prev_hash == previous
            assert event.hash == recomputed_hash(event)
            previous = event.hash
        assert self.handoff.last_hash == previous


def recomputed_hash(event: Handoff.Event) -> str:
    """The hash ``audit verify`` recomputes from an event's fields."""
    envelope = ("originator_id", "originator_version", "timestamp", "originator_topic")
    return event_digest(
        type_name=type(event).__name__,
        handoff_id=event.originator_id,
        version=event.originator_version,
        at=event.timestamp,
        prev_hash=event.prev_hash,
        data={k: v for k, v in vars(event).items() if k not in envelope},
    )


TestHandoffMachine = HandoffMachine.TestCase
TestHandoffMachine.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)

TestHandoffMachineSoak = soak_case(HandoffMachine.TestCase, examples=150)
