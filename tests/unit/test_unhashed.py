"""A handoff that is never stored (a what-if run) may skip its hash chain; a live one
never does, and an id given for a what-if run is used only when no key fixes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from handoff_ledger.domain.escalation import Step
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

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


def every_kind_of_event(hashed: bool) -> list[Handoff.Event]:
    """One handoff through every command (a clamped time, a worker, an A2A message, an
    escalation, a reassignment, a take-over), then a second one declined."""
    later = NOW + timedelta(hours=2)
    handoff = Handoff.request(
        now=NOW, sender="inbox_monitor", receiver="code_agent", ack_within=timedelta(hours=1),
        deadline_within=timedelta(hours=4), escalate_to=["human:me"], payload={"n": 1},
        hashed=hashed, handoff_id=GIVEN,
    )  # fmt: skip
    timer = handoff.timers()[0]
    handoff.escalate(
        by="reactor", now=NOW + timedelta(hours=1), reason=timer.reason, notified=["human:me"],
        timer_due=timer.due, next_step=Step(2, 0, NOW + timedelta(hours=3)),
    )  # fmt: skip
    handoff.reassign(by="inbox_monitor", now=NOW + timedelta(hours=1), to="backup_agent",
                     reason="silent")  # fmt: skip
    handoff.ack(by="backup_agent", now=NOW + timedelta(minutes=30), worker="w1",
                next_update=timedelta(minutes=10))  # clamped to the reassignment  # fmt: skip
    handoff.take_over(by="backup_agent", now=later, worker="w2")
    handoff.report_status(by="backup_agent", now=later, status=Status.STUCK, message="key?")
    handoff.reply(by="human:me", now=later, message="staging", data={"k": 1},
                  as_sent={"role": "user"})  # fmt: skip
    handoff.add_note(by="support_agent", now=later, message="fyi")
    handoff.fail(by="backup_agent", now=later, reason="tried", result={"log": 1})
    other = Handoff.request(now=NOW, sender="inbox_monitor", receiver="code_agent",
                            hashed=hashed, key="second")  # fmt: skip
    other.decline(by="code_agent", now=NOW, reason="busy")  # an implicit ack first
    third = Handoff.request(now=NOW, sender="inbox_monitor", receiver="code_agent",
                            hashed=hashed, key="third")  # fmt: skip
    third.cancel(by="inbox_monitor", now=NOW, reason="dup")
    fourth = Handoff.request(now=NOW, sender="inbox_monitor", receiver="code_agent",
                             hashed=hashed, key="fourth")  # fmt: skip
    fourth.complete(by="code_agent", now=NOW, result={"ok": True})
    return [
        event
        for aggregate in (handoff, other, third, fourth)
        for event in aggregate.collect_events()
        if isinstance(event, Handoff.Event)
    ]


GIVEN = uuid4()


def test_an_unhashed_handoff_builds_each_event_as_its_class_would_less_the_hash() -> None:
    unhashed = every_kind_of_event(hashed=False)
    hashed = every_kind_of_event(hashed=True)
    names = {type(e).__name__ for e in unhashed}
    assert names == {cls.__name__ for cls in vars(Handoff).values() if isinstance(cls, type)
                     and issubclass(cls, Handoff.Event) and cls is not Handoff.Event}  # fmt: skip
    assert any("clamped_from" in vars(e) for e in unhashed)
    for fast, built in zip(unhashed, hashed, strict=True):
        # What the class's own __init__ gives for the same values: the same instance.
        assert vars(type(fast)(**vars(fast))) == vars(fast)
        assert {k: v for k, v in vars(built).items() if k not in ("hash", "prev_hash")} == {
            k: v for k, v in vars(fast).items() if k not in ("hash", "prev_hash")
        }
        assert (fast.hash, fast.prev_hash) == (None, None)
