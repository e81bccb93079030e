"""The views' event decoder gives exactly the library mapper's events, on both stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.adapters.views.runner import VIEW_TOPICS
from handoff_ledger.domain.states import Status
from handoff_ledger.domain.timers import EscalationReason


def _every_kind_of_event(ledger: Ledger, clock: SimulatedClock) -> None:
    first = ledger.send(
        sender="inbox_monitor", to="code_agent", payload={"n": 1, "nested": {"a": [1, 2.5]}},
        ack_within=timedelta(minutes=5), deadline=timedelta(hours=2), escalate_to=["human:me"],
    ).handoff  # fmt: skip
    clock.advance(timedelta(minutes=1))
    ledger.ack(first.id, by="code_agent", eta=timedelta(hours=1), next_update=timedelta(minutes=30))
    ledger.report_status(first.id, by="code_agent", status=Status.WORKING, message="on it")
    ledger.add_note(first.id, by="inbox_monitor", message="thanks")
    ledger.escalate(
        first.id, by="inbox_monitor", reason=EscalationReason.MANUAL, notified=["human:me"],
        message="late",
    )  # fmt: skip
    ledger.watch(first.id, by="support_agent")
    ledger.complete(first.id, by="code_agent", result={"ok": True, "items": [None, "x"]})
    child = ledger.send(sender="code_agent", to="support_agent", parent_id=first.id).handoff
    ledger.reassign(child.id, by="code_agent", to="inbox_monitor", reason="busy")
    ledger.decline(child.id, by="inbox_monitor", reason="not mine")
    other = ledger.send(sender="inbox_monitor", to="code_agent", payload={"word": "_type_"})
    ledger.cancel(other.handoff.id, by="inbox_monitor", reason="moot")
    # Failed, Replied, TakenOver, and an ack by a named worker.
    third = ledger.send(sender="inbox_monitor", to="code_agent", escalate_to=["human:me"]).handoff
    ledger.ack(third.id, by="code_agent", next_update=timedelta(minutes=5), worker="w1")
    clock.advance(timedelta(minutes=6))
    ledger.take_over(third.id, by="code_agent", worker="w2")
    ledger.report_status(third.id, by="code_agent", status=Status.NEED_HELP, message="key?")
    ledger.reply(third.id, by="human:me", message="use the staging key", data={"k": "stg"})
    ledger.fail(third.id, by="code_agent", reason="the API is down", result={"tried": 3})
    # A payload that looks like a tagged value: the mapper decodes it, so must the views.
    ledger.send(
        sender="inbox_monitor", to="code_agent",
        payload={"at": {"_type_": "datetime_iso", "_data_": "2026-11-25T09:00:00+00:00"}},
    )  # fmt: skip


def _same(one: Any, other: Any) -> None:
    assert type(one) is type(other)
    mine, theirs = vars(one), vars(other)
    assert list(mine) == list(theirs)  # attribute order shows in the feed's JSON
    for name, value in mine.items():
        assert theirs[name] == value, name
        assert type(theirs[name]) is type(value), name


def test_decoder_gives_the_mappers_events(ledger: Ledger, clock: SimulatedClock) -> None:
    _every_kind_of_event(ledger, clock)
    decoder = EventDecoder(ledger.mapper)
    notifications = ledger.recorder.select_notifications(start=1, limit=1000, topics=VIEW_TOPICS)
    assert len({n.topic for n in notifications}) == len(VIEW_TOPICS)
    for notification in notifications:
        _same(decoder.decode(notification), ledger.mapper.to_domain_event(notification))
    # Only the two payloads with the tag's text in them were left to the mapper.
    assert decoder.fallbacks == 2


def test_decoder_leaves_odd_bytes_to_the_mapper(ledger: Ledger, clock: SimulatedClock) -> None:
    _every_kind_of_event(ledger, clock)
    decoder = EventDecoder(ledger.mapper)
    first = ledger.recorder.select_notifications(start=1, limit=1, topics=VIEW_TOPICS)[0]
    for state in (b" " + first.state, first.state + b" \n", b"\xef\xbb\xbf" + first.state):
        odd = StoredEvent(first.originator_id, first.originator_version, first.topic, state)
        try:
            expected = ledger.mapper.to_domain_event(odd)
        except MapperDeserialisationError:
            with pytest.raises(MapperDeserialisationError):
                decoder.decode(odd)
        else:
            _same(decoder.decode(odd), expected)
    broken = StoredEvent(first.originator_id, first.originator_version, first.topic, b"{")
    with pytest.raises(MapperDeserialisationError):
        decoder.decode(broken)
