"""Escalation policies: which step of a broken promise's escalation is due, and when.

A policy is a list of levels per reason. A level with ``on = "<reason>"`` starts that
reason's sequence at the timer's due time; each following level with ``after = D``
is scheduled ``D`` after the level before it. So every step's due time is a pure
function of the timer's due time and the policy: a reactor that was down for six
hours computes the same schedule as one that never stopped, and fires, in order,
every level that fell due meanwhile.

A ``renotify`` level repeats every ``every`` until the next level is due (or, if it is
the last, for as long as the promise stays broken). Repeats that fell due while no
reactor ran are not replayed in a burst: after a firing at ``now`` the next repeat is
the first one scheduled after ``now``.

A reason the policy does not mention gets one level: notify the handoff's
escalation targets (else its sender) once. That is also what ``send --escalate-to``
means without a protocol policy.

A step is ``(level, repeat)``; the ``Escalated`` event records the step it fired and
the step that comes next, and the ``Handoff`` aggregate refuses any step but that
next one, which is what makes each step happen exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handoff_ledger.domain.protocol import Action, EscalationLevel
from handoff_ledger.domain.timers import EscalationReason, Timer

__all__ = ["EscalationPolicy", "Step", "step_due"]


@dataclass(frozen=True)
class Step:
    """One firing of an escalation: ``level`` (1-based), ``repeat`` (0 = first), ``due``."""

    level: int
    repeat: int
    due: datetime


def step_due(next_steps: Mapping[str, Step | None], timer: Timer) -> Step | None:
    """The escalation step of ``timer`` due next: level 1 at its due time until it
    escalated, None once its levels are spent (``next_steps`` by timer key).
    ``Handoff`` and ``Outline`` ask this."""
    if not next_steps:  # never escalated (most handoffs): no key to build
        return Step(1, 0, timer.due)
    return next_steps.get(timer.key, Step(1, 0, timer.due))


@dataclass(frozen=True)
class EscalationPolicy:
    """The escalation levels of one kind, grouped into one sequence per reason."""

    levels: tuple[EscalationLevel, ...] = ()

    def sequence(self, reason: EscalationReason) -> tuple[EscalationLevel, ...]:
        """The levels that follow a broken ``reason`` promise, in order."""
        found: list[EscalationLevel] = []
        for level in self.levels:
            if level.on is not None:
                if found:
                    break
                if level.on is reason:
                    found.append(level)
            elif found:
                found.append(level)
        return tuple(found) or (EscalationLevel(on=reason, after=None, notify=()),)

    def level(self, reason: EscalationReason, number: int) -> EscalationLevel:
        """Level ``number`` (1-based) of ``reason``'s sequence."""
        return self.sequence(reason)[number - 1]

    def first(self, timer_due: datetime) -> Step:
        """The first step of any sequence: level 1, due when the promise breaks."""
        return Step(level=1, repeat=0, due=timer_due)

    def after(
        self, reason: EscalationReason, timer_due: datetime, fired: Step, now: datetime
    ) -> Step | None:
        """The step that follows ``fired`` (fired at ``now``), or ``None`` when done."""
        sequence = self.sequence(reason)
        scheduled = _schedule(sequence, timer_due)
        current = sequence[fired.level - 1]
        following: Step | None = None
        if fired.level < len(sequence):
            following = Step(fired.level + 1, 0, scheduled[fired.level])
        if current.action == Action.RENOTIFY and current.every is not None:
            base = scheduled[fired.level - 1]
            repeat = max(fired.repeat + 1, _repeats_until(base, current.every, now) + 1)
            again = Step(fired.level, repeat, base + current.every * repeat)
            if following is None or again.due < following.due:
                return again
        return following


def _schedule(sequence: Sequence[EscalationLevel], timer_due: datetime) -> list[datetime]:
    """Each level's due time: the timer's due, then each ``after`` added in turn."""
    due = [timer_due]
    for level in sequence[1:]:
        due.append(due[-1] + (level.after or timedelta(0)))
    return due


def _repeats_until(base: datetime, every: timedelta, now: datetime) -> int:
    """How many whole ``every`` periods lie between ``base`` and ``now``."""
    if now <= base:
        return 0
    return int((now - base) / every)
