"""A handoff that is never stored (a what-if run) may skip its hash chain; a live one
never does, and an id given for a what-if run is used only when no key fixes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from handoff_ledger.domain.handoff import Handoff

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def lifecycle(handoff: Handoff) -> list[Handoff.Event]:
    handoff.ack(by="code_agent", now=NOW + timedelta(minutes=1))
    handoff.complete(by="code_agent", now=NOW + timedelta(minutes=2), result={"ok": True})
    return list(handoff.collect_events())


def test_live_handoffs_chain_every_event_by_its_hash() -> None:
    handoff = Handoff.request(now=NOW, sender="inbox_monitor", receiver="code_agent")
    events = lifecycle(handoff)
    assert all(event.hash for event in events)
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert "hashed" not in vars(handoff)  # nothing extra on a stored handoff


def test_an_unhashed_handoff_records_the_same_events_without_hashes() -> None:
    given = uuid4()
    handoff = Handoff.request(
        now=NOW, sender="inbox_monitor", receiver="code_agent", hashed=False, handoff_id=given
    )
    events = lifecycle(handoff)
    assert [type(e).__name__ for e in events] == ["Created", "Acked", "Completed"]
    assert [e.hash for e in events] == [None, None, None]
    assert handoff.id == given
    keyed = Handoff.request(
        now=NOW, sender="inbox_monitor", receiver="code_agent", key="k", handoff_id=given
    )
    assert keyed.id == Handoff.id_for_key("inbox_monitor", "k")  # the key decides
