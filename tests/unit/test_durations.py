"""Durations and times as users type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff_ledger.domain.durations import (
    format_duration,
    parse_deadline,
    parse_duration,
    parse_time,
)
from handoff_ledger.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1d", 86400),
        ("PT30M", 1800),
        ("pt1h30m", 5400),
        ("P1DT2H", 93600),
        ("P1W", 604800),
        ("1.5h", 5400),
    ],
)
def test_durations_in_every_documented_form(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "1x", "h", "P", "PT", "-5m", "1h 30m", "P1DT"])
def test_malformed_duration_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^ack_within: .* is not a duration"):
        parse_duration(text, name="ack_within")


@pytest.mark.parametrize("text", ["0s", "PT0S", "0m"])
def test_zero_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="must be longer than zero"):
        parse_duration(text)


def test_time_without_offset_is_utc() -> None:
    assert parse_time("2026-11-25T09:00:00") == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert parse_time("2026-11-25T09:00:00Z") == datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_malformed_time_names_the_option() -> None:
    with pytest.raises(InvalidInput, match=r"^as_of: 'yesterday' is not an ISO 8601 time"):
        parse_time("yesterday", name="as_of")


def test_deadline_is_a_duration_or_a_time() -> None:
    assert parse_deadline("4h") == timedelta(hours=4)
    assert parse_deadline("2026-11-25T13:00:00Z") == datetime(2026, 11, 25, 13, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="neither a duration"):
        parse_deadline("tomorrow-ish")


def test_format_duration_reads_back() -> None:
    for text in ("45s", "30m", "1h30m", "1d", "2d3h4m5s"):
        assert format_duration(parse_duration(text)) == text


def test_absurdly_long_duration_is_bad_input_not_a_crash() -> None:
    with pytest.raises(InvalidInput, match="longer than the longest allowed"):
        parse_duration("999999999d", name="deadline")
    with pytest.raises(InvalidInput, match="neither a duration"):
        parse_deadline("999999999d")


def test_a_time_option_takes_a_duration_back_from_now() -> None:
    now = datetime(2026, 11, 25, 15, tzinfo=UTC)
    assert parse_time("6h", name="since", now=now) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert parse_time("PT30M", name="as_of", now=now) == now - timedelta(minutes=30)
    assert parse_time("2026-11-25T09:00:00Z", now=now) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match=r"or a duration back from now \(6h, 1d, PT30M\)$"):
        parse_time("yesterday", name="since", now=now)
