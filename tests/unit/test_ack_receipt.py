"""The receipt an ack prints counts its promises from the ack, not from the print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_ledger.adapters.cli.render import ack_text
from handoff_ledger.domain.handoff import Handoff

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def acked_at(moment: datetime) -> Handoff:
    handoff = Handoff.request(now=T0, sender="inbox_monitor", receiver="code_agent")
    handoff.ack(
        by="code_agent", now=moment, eta=timedelta(hours=2), next_update=timedelta(minutes=30)
    )
    return handoff


def test_a_receipt_printed_late_still_says_what_was_promised() -> None:
    # A loaded machine took 1.5 s between recording the ack and printing it (CI saw
    # "NEXT_UPDATE: 29m 59s" for a promised 30m).
    handoff = acked_at(T0 + timedelta(minutes=1))
    line = ack_text(handoff, 1, T0 + timedelta(minutes=1, seconds=1.5), recorded=True)
    assert "ETA: Will deliver within 2h (2026-12-06T11:01:00Z)" in line
    assert "NEXT_UPDATE: 30m (2026-12-06T09:31:00Z)" in line


def test_an_ack_made_earlier_says_what_is_left_of_its_promises() -> None:
    handoff = acked_at(T0 + timedelta(minutes=1))
    line = ack_text(handoff, 1, T0 + timedelta(minutes=11), recorded=False)
    assert line.startswith("HANDOFF_ACK: code_agent had already acked")
    assert "NEXT_UPDATE: 20m (2026-12-06T09:31:00Z)" in line
