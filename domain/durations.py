"""Durations and times as users type them: ``45s``, ``1h30m``, ``PT30M``, ISO 8601.

Parsing lives in the domain because the rules (timers, deadlines) are expressed in
these units and every interface must read them the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from handoff_ledger.domain.errors import InvalidInput

__all__ = ["MAX_DURATION", "format_duration", "parse_deadline", "parse_duration", "parse_time"]

MAX_DURATION = timedelta(days=3650)
"""No promise is longer than ten years; beyond that a typo is far likelier than a plan."""

_SHORT = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_SHORT_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[dhms])+")
_ISO = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """Read ``45s``, ``30m``, ``2h``, ``1h30m``, ``1d`` or ISO 8601 (``PT30M``).

    Raises :class:`InvalidInput` naming ``name`` and the accepted forms. Zero and
    negative durations are refused: a timer that is already due is a mistake.
    """
    raw = text.strip()
    seconds: float | None = None
    if _SHORT_WHOLE.fullmatch(raw):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _SHORT.findall(raw))
    else:
        match = _ISO.fullmatch(raw.upper())
        if match and raw.upper() not in ("P", "PT") and not raw.upper().endswith("T"):
            parts = {k: float(v) for k, v in match.groupdict().items() if v}
            seconds = (
                parts.get("weeks", 0) * 7 * 86400
                + parts.get("days", 0) * 86400
                + parts.get("hours", 0) * 3600
                + parts.get("minutes", 0) * 60
                + parts.get("seconds", 0)
            )
    if seconds is None:
        raise InvalidInput(
            f"{name}: {text!r} is not a duration "
            "(use 45s, 30m, 2h, 1h30m, 1d or ISO 8601 such as PT30M)"
        )
    if seconds <= 0:
        raise InvalidInput(f"{name}: {text!r} must be longer than zero")
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidInput(f"{name}: {text!r} is longer than the longest allowed (3650d)")
    duration = timedelta(seconds=seconds)
    if not duration:  # times are kept to the microsecond: this timer would never be armed
        raise InvalidInput(f"{name}: {text!r} is shorter than a microsecond, the shortest allowed")
    return duration


def parse_time(text: str, *, name: str = "time", now: datetime | None = None) -> datetime:
    """Read an ISO 8601 time; a time without an offset is taken as UTC.

    Given ``now``, a duration is taken as that long back from it (``--since 6h``):
    every time a user types (``--since``, ``--until``, ``--as-of``) reads both ways.
    """
    raw = text.strip()
    if now is not None:
        try:
            back = parse_duration(raw, name=name)
        except InvalidInput:
            pass  # not a duration: read as a time below
        else:
            return require_in_range(now - back, name)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except (ValueError, OverflowError):
        also = " or a duration back from now (6h, 1d, PT30M)" if now is not None else ""
        raise InvalidInput(
            f"{name}: {text!r} is not an ISO 8601 time (e.g. 2026-11-25T14:30:00Z){also}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return require_in_range(value, name)


EARLIEST = datetime(11, 1, 1, tzinfo=UTC)
LATEST = datetime(9989, 1, 1, tzinfo=UTC)
"""Times outside these are refused: ten years' margin (the longest duration) on either
side of what a datetime holds, so no timer, escalation step or UTC conversion of a
recorded time can overflow (one that did would stop every reader of the log at it)."""


def require_in_range(value: datetime, name: str) -> datetime:
    """``value`` if it lies between EARLIEST and LATEST once converted to UTC."""
    try:
        fits = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:
        fits = False
    if not fits:
        raise InvalidInput(
            f"{name}: {value.isoformat()} is out of range "
            f"({EARLIEST.year:04d}-01-01 to {LATEST.year}-01-01 UTC)"
        )
    return value


def parse_deadline(text: str, *, name: str = "deadline") -> timedelta | datetime:
    """Read a deadline given either as a duration from now (``4h``) or as a time."""
    try:
        return parse_duration(text, name=name)
    except InvalidInput:
        pass
    try:
        return parse_time(text, name=name)
    except InvalidInput as error:
        if "out of range" in error.message:
            raise  # a time, but one no timer can hold: say that, not "neither"
        raise InvalidInput(
            f"{name}: {text!r} is neither a duration (4h, PT4H) nor an ISO 8601 time"
        ) from None


def format_duration(delta: timedelta) -> str:
    """Write a duration the way users type it: ``1h30m``, ``45s``, ``2d``."""
    total = round(delta.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
