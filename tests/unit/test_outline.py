"""A recorded handoff's outline (``protocol simulate``'s recorded side) agrees with the
full fold on every field it holds, on the histories the stateful machine generates."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis.stateful import invariant
from sizes import soak_case
from test_handoff_stateful import HandoffMachine

from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.outline import _FOLDS, Outline


def outline_fields(subject: Handoff | Outline) -> dict[str, Any]:
    """The outline's fields as ``subject`` holds them, and its answers."""
    values = {name: getattr(subject, name) for name in Outline.__slots__}
    timers = subject.timers()
    return {
        **values,
        "is_open": subject.is_open,
        "timers": timers,
        "next_steps_of_timers": [subject.next_step(t) for t in timers],
    }


class OutlineMachine(HandoffMachine):
    """The handoff machine's random histories, each also folded as an outline."""

    @invariant()
    def the_outline_agrees_with_the_full_fold(self) -> None:
        created = self.events[0]
        assert isinstance(created, Handoff.Created)
        outline = Outline(created)
        for event in self.events[1:]:
            outline.fold(event)
        assert outline_fields(outline) == outline_fields(self.handoff)

    @invariant()
    def an_outline_taken_of_the_full_fold_agrees_with_it(self) -> None:
        assert outline_fields(Outline.of(self.handoff)) == outline_fields(self.handoff)


TestOutlineMachine = OutlineMachine.TestCase
TestOutlineMachine.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)

TestOutlineMachineSoak = soak_case(OutlineMachine.TestCase, examples=150)


def test_every_later_event_of_a_handoff_has_a_fold() -> None:
    later = {cls for cls in vars(Handoff).values() if isinstance(cls, type)}
    later = {cls for cls in later if issubclass(cls, Handoff.Event)}
    assert later - {Handoff.Event, Handoff.Created} == set(_FOLDS)
