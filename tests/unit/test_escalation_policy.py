"""Escalation policies: the schedule of each step is a pure function of the timer's due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff_ledger.domain.errors import ProtocolInvalid
from handoff_ledger.domain.escalation import EscalationPolicy, Step
from handoff_ledger.domain.protocol import Protocol
from handoff_ledger.domain.timers import EscalationReason

DUE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ACK = EscalationReason.ACK_TIMEOUT

PROTOCOL = """
escalation = [ { on = "deadline_missed", notify = ["lead"] } ]

[agents.sender]
[agents.worker]
[agents.lead]
[agents.backup]

[kinds.bug]
escalation = [
  { on = "ack_timeout", notify = ["lead"] },
  { after = "30m", notify = ["lead"], action = "renotify", every = "10m" },
  { after = "1h", notify = ["lead"], action = "reassign", to = "backup" },
  { on = "update_overdue", notify = ["lead"] },
]

[kinds.chore]
"""


def minutes(n: int) -> datetime:
    return DUE + timedelta(minutes=n)


@pytest.fixture
def policy() -> EscalationPolicy:
    return EscalationPolicy(Protocol.parse(PROTOCOL).escalation_levels("bug"))


def test_levels_follow_each_other_on_a_fixed_schedule(policy: EscalationPolicy) -> None:
    first = policy.first(DUE)
    assert first == Step(1, 0, DUE)
    second = policy.after(ACK, DUE, first, now=minutes(1))
    assert second == Step(2, 0, minutes(30))
    # Renotify every 10 minutes, until level 3 is due 1 h after level 2.
    repeats = []
    step: Step | None = second
    while step is not None and step.level == 2:
        repeats.append(step)
        step = policy.after(ACK, DUE, step, now=step.due)
    assert [r.due for r in repeats] == [minutes(m) for m in (30, 40, 50, 60, 70, 80)]
    assert step == Step(3, 0, minutes(90))
    assert policy.after(ACK, DUE, step, now=minutes(90)) is None


def test_after_downtime_levels_catch_up_but_repeats_do_not_burst(policy: EscalationPolicy) -> None:
    # A reactor back at +6 h fires level 1, then level 2 at once (its time has passed) ...
    second = policy.after(ACK, DUE, policy.first(DUE), now=minutes(360))
    assert second == Step(2, 0, minutes(30))
    # ... and after level 2, not the missed repeats, but level 3, also overdue.
    assert policy.after(ACK, DUE, second, now=minutes(360)) == Step(3, 0, minutes(90))
    # A renotify fired late skips the repeats that fell due meanwhile.
    late = policy.after(ACK, DUE, Step(2, 0, minutes(30)), now=minutes(55))
    assert late == Step(2, 3, minutes(60))


def test_each_reason_has_its_own_sequence_and_a_default(policy: EscalationPolicy) -> None:
    update = policy.sequence(EscalationReason.UPDATE_OVERDUE)
    assert [level.notify for level in update] == [("lead",)]
    # The kind names no deadline level: one plain level, notify the handoff's targets.
    (deadline,) = policy.sequence(EscalationReason.DEADLINE_MISSED)
    assert (deadline.action, deadline.notify) == ("notify", ())
    assert policy.after(EscalationReason.DEADLINE_MISSED, DUE, Step(1, 0, DUE), DUE) is None


def test_kinds_without_a_policy_use_the_protocol_default() -> None:
    protocol = Protocol.parse(PROTOCOL)
    (level,) = protocol.escalation_levels("chore")
    assert level.on is EscalationReason.DEADLINE_MISSED
    assert protocol.escalation_levels(None) == protocol.escalation


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ('[ { after = "1h", notify = ["lead"] } ]', "first level needs `on`"),
        (
            '[ { on = "ack_timeout" }, { on = "ack_timeout" } ]',
            "two sequences start on 'ack_timeout'",
        ),
        ('[ { on = "ack_timeout", action = "renotify" } ]', "renotify action needs `every`"),
        ('[ { on = "ack_timeout", action = "reassign" } ]', "reassign action needs `to`"),
        ('[ { on = "ack_timeout", every = "0s", action = "renotify" } ]', "longer than zero"),
    ],
)
def test_bad_policies_are_refused_with_their_line(levels: str, message: str) -> None:
    text = f"[agents.lead]\n[kinds.bug]\nescalation = {levels}\n"
    with pytest.raises(ProtocolInvalid, match=message) as caught:
        Protocol.parse(text)
    assert "handoff.toml:3" in caught.value.message
