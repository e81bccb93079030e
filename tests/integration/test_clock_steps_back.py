"""A clamped event, and events in the format before the clamp, on SQLite and PostgreSQL.

An event the clock did not disagree with is stored exactly as before the clamp
existed (no ``clamped_from`` key), so stores written by older code and new events
alike load through both decoders and verify; a clamped event carries the clock's
reading, and ``audit verify`` covers it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.audit import verify_ledger
from handoff_ledger.adapters.store.rows import stored_events
from handoff_ledger.adapters.views import Views
from handoff_ledger.adapters.views.decode import EventDecoder
from handoff_ledger.domain.integrity import event_digest

_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


def test_a_clamped_ack_is_stored_with_the_clocks_reading_and_verifies(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    start = clock.now()
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(hours=2))
    ledger.add_note(sent.id, by="human:me", message="two hours in")
    clock.set(start - timedelta(hours=1))
    ledger.ack(sent.id, by="code_agent")

    created, noted, acked = ledger.history(sent.id)
    assert acked.timestamp == noted.timestamp == start + timedelta(hours=2)
    assert acked.clamped_from == start - timedelta(hours=1)
    assert created.clamped_from is None
    assert noted.clamped_from is None
    assert ledger.get(sent.id).acked_at == start + timedelta(hours=2)
    report = verify_ledger(ledger)
    assert report.ok, report.problems
    assert report.unsealed == 0


def test_events_without_clamped_from_the_format_before_the_clamp_load_and_verify(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    sent = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    clock.advance(timedelta(minutes=5))
    ledger.ack(sent.id, by="code_agent")
    ledger.complete(sent.id, by="code_agent")

    rows = list(stored_events(ledger, sent.id))
    decoder = EventDecoder(ledger.mapper)
    assert len(rows) == 3
    for originator_id, version, topic, state, _position in rows:
        stored: dict[str, Any] = json.loads(bytes(state))
        assert "clamped_from" not in stored  # the bytes older code wrote
        for event in (
            decoder.decode_entry(topic, originator_id, version, bytes(state)),
            decoder._fallback(topic, originator_id, version, bytes(state)),
        ):
            assert "clamped_from" not in vars(event)
            assert event.clamped_from is None
            # The hash as older code computed it: the fields, with no clamped_from.
            data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
            assert (
                event_digest(
                    type_name=type(event).__name__,
                    handoff_id=event.originator_id,
                    version=version,
                    at=event.timestamp,
                    prev_hash=event.prev_hash,
                    data=data,
                )
                == event.hash
            )
    assert verify_ledger(ledger).ok


def test_replay_reads_past_a_later_event_to_a_handoff_created_after_it_in_log_order(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    start = clock.now()
    clock.set(start + timedelta(hours=3))
    later = ledger.send(sender="support_agent", to="human:me").handoff
    clock.set(start)
    earlier = ledger.send(sender="inbox_monitor", to="code_agent").handoff
    memory = Views(ledger).replay(start + timedelta(minutes=30), ["queues"])
    queued = {row["handoff_id"] for row in memory.rows("queue").values()}
    assert queued == {str(earlier.id)}
    assert str(later.id) not in queued
