"""What a ledger keeps between commands (issue 24, item 5): the protocol in force and
recently used handoffs. Each kept thing must give way to what another ledger, on
another connection to the same store, recorded meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from uuid import UUID

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import NotPermitted, Refused
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import State

FIRST = "[agents.a]\n[agents.b]\n"
SECOND = "[agents.a]\n[agents.b]\n[agents.c]\n"


@pytest.fixture
def other(store_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    """A second ledger on the same store: another process, as far as the store can tell."""
    opened = open_ledger(store_url, clock=clock)
    yield opened
    opened.close()


class LateWatch:
    """A watch whose announcement of a new version has not arrived yet (PostgreSQL's
    NOTIFY reaches a listener a moment after the commit): it says "changed" once."""

    strict = False

    def __init__(self) -> None:
        self.asked = 0

    def may_have_changed(self) -> bool:
        self.asked += 1
        return self.asked == 1

    def close(self) -> None:
        pass


def history(ledger: Ledger, handoff_id: UUID) -> list[str]:
    return [type(event).__name__ for event in ledger.history(handoff_id)]


# ---------------------------------------------------------------- the protocol in force


def test_a_send_right_after_another_ledger_applies_a_protocol_is_under_the_new_version(
    ledger: Ledger, other: Ledger
) -> None:
    assert other.send(sender="a", to="b").handoff.protocol_version is None  # none kept
    ledger.apply_protocol(FIRST, source="first.toml")
    assert other.send(sender="a", to="b").handoff.protocol_version == 1
    ledger.apply_protocol(SECOND, source="second.toml")
    assert other.send(sender="a", to="c").handoff.protocol_version == 2  # c: only in v2
    assert other.protocol_in_force() is not None


def test_the_protocol_is_not_read_again_while_nobody_applies_one(
    ledger: Ledger, other: Ledger
) -> None:
    ledger.apply_protocol(FIRST, source="first.toml")
    reads: list[object] = []
    events = other.events
    original = events.get

    def counted(originator_id: UUID, **kwargs: object) -> object:
        reads.append(originator_id)
        return original(originator_id, **kwargs)  # type: ignore[arg-type]

    events.get = counted  # type: ignore[method-assign]
    other.send(sender="a", to="b")  # reads it: this ledger had not yet
    first = len(reads)
    for _ in range(5):
        other.send(sender="a", to="b")
    assert len(reads) == first


@pytest.mark.postgres
def test_the_protocol_channel_announces_a_version_applied_elsewhere(
    pg_url: str, clock: SimulatedClock
) -> None:
    applying, watching = open_ledger(pg_url, clock=clock), open_ledger(pg_url, clock=clock)
    try:
        watching.protocol_in_force()  # listening from here on
        applying.send(sender="a", to="b")  # a handoff's save announces nothing here
        applying.apply_protocol(FIRST, source="first.toml")
        deadline = time.monotonic() + 10
        while not watching.protocol_watch.may_have_changed():
            assert time.monotonic() < deadline, "no notification within 10 s"
            time.sleep(0.01)
    finally:
        applying.close()
        watching.close()


@pytest.mark.postgres
def test_a_send_decided_before_the_announcement_arrived_is_decided_again(
    pg_url: str, clock: SimulatedClock
) -> None:
    applying, late = open_ledger(pg_url, clock=clock), open_ledger(pg_url, clock=clock)
    late.protocol_watch = LateWatch()
    try:
        assert late.send(sender="a", to="b").handoff.protocol_version is None
        applying.apply_protocol(FIRST, source="first.toml")
        sent = late.send(sender="a", to="b").handoff
        assert sent.protocol_version == 1
        assert late.get(sent.id).protocol_version == 1
        applying.apply_protocol(SECOND, source="second.toml")
        handoff = late.get(sent.id)
        acked = late.ack(handoff.id, by="b").handoff  # guarded too: decided again under v2
        assert acked.state is State.ACKED
    finally:
        applying.close()
        late.close()


@pytest.mark.postgres
def test_a_refusal_that_a_newer_version_lifts_is_checked_against_it(
    pg_url: str, clock: SimulatedClock
) -> None:
    applying, late = open_ledger(pg_url, clock=clock), open_ledger(pg_url, clock=clock)
    late.protocol_watch = LateWatch()
    try:
        applying.apply_protocol(FIRST, source="first.toml")
        handoff = late.send(sender="a", to="b").handoff  # late keeps v1: a and b only
        applying.apply_protocol(SECOND, source="second.toml")
        noted = late.add_note(handoff.id, by="c", message="c is declared by v2")
        assert history(late, noted.id) == ["Created", "NoteAdded"]
    finally:
        applying.close()
        late.close()


# ---------------------------------------------------------------- handoffs kept


def test_two_ledgers_interleaving_commands_each_see_the_others_events(
    ledger: Ledger, other: Ledger
) -> None:
    handoff = ledger.send(sender="a", to="b").handoff
    other.ack(handoff.id, by="b")
    ledger.reassign(handoff.id, by="a", to="c", reason="b is away")
    other.ack(handoff.id, by="c")  # other kept the handoff acked by b, before the reassign
    ledger.add_note(handoff.id, by="b", message="handed over")
    done = other.complete(handoff.id, by="c", result={"ok": True})
    assert done.state is State.COMPLETED
    assert done.version == 6
    expected = ["Created", "Acked", "Reassigned", "Acked", "NoteAdded", "Completed"]
    assert history(ledger, handoff.id) == expected
    assert ledger.get(handoff.id).version == other.get(handoff.id).version == 6
    assert (ledger.lost_races, other.lost_races) == (0, 0)  # fast-forwarded, not retried


def test_a_stale_kept_copy_is_caught_by_the_conflict_retry(ledger: Ledger, other: Ledger) -> None:
    handoff = ledger.send(sender="a", to="b").handoff
    ledger.get(handoff.id)  # kept at version 1
    interleaved: list[int] = []

    def note_after_another_process(kept: Handoff) -> None:
        if not interleaved:  # between this command's read and its save, once
            interleaved.append(other.add_note(handoff.id, by="x", message="first").version)
        kept.add_note(by="y", now=ledger.clock.now(), message="second")

    ledger._act("note", handoff.id, "y", note_after_another_process)
    assert ledger.lost_races == 1
    assert history(ledger, handoff.id) == ["Created", "NoteAdded", "NoteAdded"]
    assert [e.message for e in ledger.history(handoff.id)[1:]] == ["first", "second"]  # type: ignore[attr-defined]


def test_a_refused_command_leaves_nothing_in_the_kept_copy(ledger: Ledger) -> None:
    handoff = ledger.send(sender="a", to="b").handoff
    with pytest.raises(NotPermitted):
        ledger.complete(handoff.id, by="intruder")

    def note_then_refuse(kept: Handoff) -> None:  # a rule checked after an event was triggered
        kept.add_note(by="b", now=ledger.clock.now(), message="never recorded")
        raise Refused("refused after the note")

    with pytest.raises(Refused):
        ledger._act("note", handoff.id, "b", note_then_refuse)
    assert ledger.ack(handoff.id, by="b").recorded
    assert history(ledger, handoff.id) == ["Created", "Acked"]
    assert ledger.get(handoff.id).pending_events == []


def test_a_handoff_handed_out_is_the_callers_own(ledger: Ledger) -> None:
    sent = ledger.send(sender="a", to="b").handoff
    sent.add_note(by="a", now=ledger.clock.now(), message="never saved (send's copy)")
    read = ledger.get(sent.id)
    read.add_note(by="a", now=ledger.clock.now(), message="never saved (get's copy)")
    acked = ledger.ack(sent.id, by="b")
    acked.handoff.add_note(by="a", now=ledger.clock.now(), message="never saved (ack's copy)")
    assert ledger.complete(sent.id, by="b").state is State.COMPLETED
    assert history(ledger, sent.id) == ["Created", "Acked", "Completed"]
