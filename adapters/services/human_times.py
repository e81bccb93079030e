"""Times and durations as people read them: one format on every human face.

JSON documents keep exact ISO 8601 times (microseconds, ``Z``) and exact durations;
what a person reads (the CLI without ``--json``, the dashboard, ``handoff demo``)
goes through this module instead, so it looks the same everywhere:

- a time is UTC to the whole second with a ``Z``: ``2026-11-25T09:00:00Z``;
- a time relative to now is rounded to its largest unit or two: ``2h 5m ago``,
  ``in 7d 23h``, never ``7d22h39m18s ago``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from handoff_ledger.adapters.services.documents import parse_iso

__all__ = ["human_text", "human_time", "human_value", "relative", "rough_duration"]

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)(?![\w:])")
# Durations a message measures from now: "(5h35m ago)", "nobody has acted on it since (5h33m)".
_DURATION_AGO = re.compile(r"\b(?:\d+[dhms])+(?= ago\b)|(?<=since \()(?:\d+[dhms])+(?=\))")


def human_time(moment: datetime | str | None, none: str = "-") -> str:
    """``2026-11-25T09:00:00Z`` (a datetime or a document's ISO text); ``none`` for None."""
    when = parse_iso(moment) if isinstance(moment, str) else moment
    if when is None:
        return none
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rough_duration(delta: timedelta) -> str:
    """A duration to its largest unit or two, rounded: ``2h 5m``, ``7d 23h``, ``45s``."""
    total = round(abs(delta.total_seconds()))
    if total == 0:
        return "0s"
    for index, (_, size) in enumerate(_UNITS):
        if total >= size:
            finest = _UNITS[min(index + 1, len(_UNITS) - 1)][1]
            total = (total + finest // 2) // finest * finest  # round half up
            break
    parts = []
    for unit, size in _UNITS:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def relative(moment: datetime | str | None, now: datetime) -> str:
    """How far ``moment`` is from ``now``: ``in 25m``, ``2h 5m ago``, ``now``."""
    when = parse_iso(moment) if isinstance(moment, str) else moment
    if when is None:
        return ""
    delta = when - now
    if abs(delta.total_seconds()) < 1:
        return "now"
    if delta.total_seconds() > 0:
        return f"in {rough_duration(delta)}"
    return f"{rough_duration(delta)} ago"


def human_text(text: str) -> str:
    """A message written for JSON documents (a break's, an error's), made human-readable:
    its ISO times to the whole second with ``Z``, its durations back from now rounded."""

    def time(match: re.Match[str]) -> str:
        return human_time(match.group(1) + match.group(2).replace("Z", "+00:00"))

    def ago(match: re.Match[str]) -> str:
        seconds = sum(
            int(count) * dict(_UNITS)[unit]
            for count, unit in re.findall(r"(\d+)([dhms])", match.group(0))
        )
        return rough_duration(timedelta(seconds=seconds))

    return _DURATION_AGO.sub(ago, _ISO_TIME.sub(time, text))


def human_value(text: str) -> str:
    """A field's text as a person reads it: a whole ISO time made :func:`human_time`."""
    match = _ISO_TIME.fullmatch(text)
    return human_text(text) if match else text
