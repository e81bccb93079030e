"""What people read: one time format, relative times in their largest unit or two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handoff_ledger.adapters.services.human_times import (
    human_text,
    human_time,
    relative,
    rough_duration,
)

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_a_time_is_utc_to_the_whole_second_with_a_z() -> None:
    assert human_time("2026-11-25T08:40:00.999999Z") == "2026-11-25T08:40:00Z"
    assert human_time(datetime.fromisoformat("2026-11-25T10:40:05.5+02:00")) == (
        "2026-11-25T08:40:05Z"
    )
    assert human_time(None) == "-"
    assert human_time(None, "none promised") == "none promised"


def test_relative_times_round_to_their_largest_unit_or_two() -> None:
    week = timedelta(days=7, hours=22, minutes=39, seconds=18)
    assert relative(NOW - week, NOW) == "7d 23h ago"
    assert relative(NOW + timedelta(hours=2, minutes=5, seconds=20), NOW) == "in 2h 5m"
    assert relative(NOW - timedelta(seconds=45), NOW) == "45s ago"
    assert relative(NOW, NOW) == "now"
    assert rough_duration(timedelta(hours=23, minutes=59, seconds=45)) == "1d"
    assert rough_duration(timedelta(minutes=5, seconds=30)) == "5m 30s"


def test_a_message_written_for_json_reads_the_same_way() -> None:
    message = (
        "last heard 2026-11-25T08:40:00.123456Z, due 2026-11-25T09:25:00+00:00 "
        "(7d22h39m18s ago); nobody has acted on it since (5h33m), rule: every 1h30m"
    )
    assert human_text(message) == (
        "last heard 2026-11-25T08:40:00Z, due 2026-11-25T09:25:00Z "
        "(7d 23h ago); nobody has acted on it since (5h 33m), rule: every 1h30m"
    )
