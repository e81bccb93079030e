"""The hash chain that makes each handoff's history tamper-evident.

Every event of a handoff commits to the one before it: its ``hash`` is the SHA-256
of a canonical JSON document holding the event's scheme, type, handoff id, version,
time, the previous event's hash (``prev_hash``) and every field of the event.
Altering an event changes its hash; removing or inserting one breaks the link of
the event after it (and the version sequence). ``handoff audit verify`` recomputes
the chain.

Two schemes, named in each event's ``scheme`` field (an event without one is v1):

- ``handoff-ledger/jcs-sha256-v2`` (every event since issue 20): the document in
  the JSON Canonicalization Scheme (RFC 8785), so any language's JCS library
  recomputes it: keys sorted by UTF-16 code units, numbers written as ECMAScript
  writes them (``1.0`` is ``1``, ``1e-7`` is ``1e-7``), strings as JSON.stringify.
  Integers beyond ±(2^53-1) cannot be written exactly by every reader, so
  ``rules.require_storable`` refuses them before they reach an event.
- ``handoff-ledger/sha256-v1`` (events recorded before): Python's
  ``json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
  which other languages reproduce except for floats, integers above 2^53 and keys
  outside the Basic Multilingual Plane. Old events keep verifying under it.

The document is deliberately the same JSON an export line carries, so an auditor
can recompute every hash from ``handoff export`` output without this software
(docs/audit.md shows how, in Python and JavaScript).

A chain is evidence against tampering done *around* the ledger; it is not a
signature: whoever can write the database and recompute every later hash of a
handoff can forge a consistent tail. Signed anchors (``handoff audit anchor``) and
the views, which remember each handoff's last log position, catch that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from handoff_ledger.domain.jsontext import writer

__all__ = [
    "HASH_FIELDS",
    "MAX_SAFE_INTEGER",
    "SCHEME",
    "SCHEMES",
    "SCHEME_V1",
    "canonical",
    "event_digest",
    "jcs",
    "plain",
]

SCHEME = "handoff-ledger/jcs-sha256-v2"
"""The scheme of every new event: RFC 8785 (JCS) canonical JSON, SHA-256."""

SCHEME_V1 = "handoff-ledger/sha256-v1"
"""The scheme of events recorded before issue 20 (they carry no ``scheme`` field)."""

SCHEMES = (SCHEME_V1, SCHEME)

HASH_FIELDS = ("prev_hash", "hash", "scheme")
"""The chain's own fields: part of every event, never part of its hashed ``data``."""

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader holds exactly (an IEEE 754 double)."""


def plain(value: Any) -> Any:
    """A value as plain JSON: times ISO 8601 in UTC with ``Z``, ids as text.

    The same conversion as the CLI's JSON documents and the export, so what an
    auditor reads is exactly what was hashed.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def canonical(document: Any) -> bytes:
    """The one byte string a JSON document hashes as (sorted keys, no spaces, UTF-8).

    Times, ids and enums inside it are written as :func:`plain` writes them.
    """
    return _canonical_write(document).encode("utf-8")


def _plain_leaf(value: Any) -> Any:
    """What the JSON encoder cannot write itself, the way :func:`plain` writes it."""
    if isinstance(value, datetime):
        if value.tzinfo is UTC:  # the clock's own times: no conversion needed
            return value.isoformat().replace("+00:00", "Z")
        return plain(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum | Mapping | set | frozenset):
        return plain(value)
    raise TypeError(f"cannot hash {type(value).__name__} as JSON")


_CANONICAL = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=True,
    default=_plain_leaf,
)
"""One encoder for every event (``json.dumps`` with options builds one per call)."""


def event_digest(
    *,
    type_name: str,
    handoff_id: UUID | str,
    version: int,
    at: datetime,
    prev_hash: str | None,
    data: Mapping[str, Any],
    scheme: str | None = None,
) -> str:
    """The hash of one event: its identity, its place in the chain and its fields.

    ``data`` is every field of the event but the chain's own (``HASH_FIELDS``):
    ``by``, ``chain_id`` and the event type's fields. ``scheme`` defaults to the one
    ``data`` names (an event's own ``scheme`` field), else v1: an event that names
    no scheme was recorded before schemes were named.
    """
    if scheme is None:
        scheme = data.get("scheme") or SCHEME_V1
    if scheme == SCHEME:
        try:  # jcs(document) below, without building the document twice
            ready = {
                "scheme": scheme,
                "type": str(type_name),
                "handoff_id": str(handoff_id),
                "version": _jcs_ready(version),
                "at": _plain_leaf(at),
                "prev_hash": _jcs_ready(prev_hash),
                "data": _ready_mapping(data, HASH_FIELDS),
            }
        except _NeedsSlowPath:
            pass
        else:
            return hashlib.sha256(_jcs_write(ready).encode("utf-8")).hexdigest()
    document = {
        "scheme": scheme,
        "type": type_name,
        "handoff_id": str(handoff_id),
        "version": version,
        "at": _plain_leaf(at),
        "prev_hash": prev_hash,
        "data": {k: v for k, v in data.items() if k not in HASH_FIELDS},
    }
    if scheme == SCHEME:
        return hashlib.sha256(jcs(document)).hexdigest()
    if scheme != SCHEME_V1:
        raise ValueError(f"unknown hash scheme {scheme!r}")
    return hashlib.sha256(canonical(document)).hexdigest()


def jcs(document: Any) -> bytes:
    """``document`` in the JSON Canonicalization Scheme (RFC 8785), UTF-8.

    The common case runs on the C JSON encoder: one walk turns times and ids into
    text and integral floats into integers (``1.0`` → ``1``, as ECMAScript writes
    it; every other float from 1e-4 up is written alike by Python and ECMAScript),
    then ``sort_keys`` orders keys, which matches UTF-16 order unless a key holds a
    character beyond the Basic Multilingual Plane. A document with such a key, or
    with a float below 1e-4 or an integral one beyond 2^53, takes the pure-Python
    writer (:func:`_jcs_slow`), which implements the RFC in full.
    """
    try:
        ready = _jcs_ready(document)
    except _NeedsSlowPath:
        return _jcs_slow(document).encode("utf-8")
    return _jcs_write(ready).encode("utf-8")


class _NeedsSlowPath(Exception):
    """The C encoder would not write this document as RFC 8785 does."""


_TWO_53 = float(2**53)


def _jcs_ready(value: Any) -> Any:
    """``value`` as plain JSON the C encoder writes canonically, or _NeedsSlowPath."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is dict:
        return _ready_mapping(value)
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise ValueError(f"cannot hash {value}: beyond ±(2^53-1)")
    if kind is float:
        magnitude = abs(value)
        if value.is_integer() and magnitude < _TWO_53:
            return int(value)
        if 1e-4 <= magnitude < _TWO_53:
            return value
        raise _NeedsSlowPath
    if isinstance(value, Mapping):
        return _ready_mapping(value)
    if kind is list or kind is tuple:
        return [_jcs_ready(inner) for inner in value]
    if kind is datetime and value.tzinfo is UTC:  # the clock's own times
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime | UUID | Enum | set | frozenset):
        return _jcs_ready(plain(value))
    if isinstance(value, int | float | str):  # subclasses: as their base type
        return _jcs_ready((bool if isinstance(value, bool) else type(value).__mro__[-2])(value))
    raise TypeError(f"cannot hash {type(value).__name__} as JSON")


def _ready_mapping(value: Mapping[Any, Any], leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """A mapping's :func:`_jcs_ready` (without the keys ``leave_out``): the values an
    event holds most (text, None, small integers, the clock's times) written inline,
    the rest by :func:`_jcs_ready` (an event has a dozen fields: a call per field
    was half the cost of hashing it)."""
    out = {}
    for key, inner in value.items():
        if key in leave_out:
            continue
        text = key if type(key) is str else str(plain(key))
        if not text.isascii() and max(text) > "\uffff":
            raise _NeedsSlowPath
        kind = type(inner)
        if (
            kind is str
            or inner is None
            or kind is bool
            or (kind is int and -MAX_SAFE_INTEGER <= inner <= MAX_SAFE_INTEGER)
        ):
            out[text] = inner
        elif kind is datetime and inner.tzinfo is UTC:
            out[text] = inner.isoformat().replace("+00:00", "Z")
        elif kind is UUID:
            out[text] = str(inner)
        else:
            out[text] = _jcs_ready(inner)
    return out


_JCS_FAST = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)

_jcs_write = writer(_JCS_FAST)
_canonical_write = writer(_CANONICAL)

_write_string = json.encoder.encode_basestring
"""JSON.stringify's escaping: ``"``, ``\\`` and control characters only."""


def _jcs_slow(value: Any) -> str:
    """RFC 8785 in full: UTF-16 key order, ECMAScript numbers. Slow; rarely needed."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is str:
        return str(_write_string(value))
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"cannot hash {value}: beyond ±(2^53-1)")
        return str(value)
    if kind is float:
        return es_number(value)
    if isinstance(value, Mapping):
        items = [(k if type(k) is str else str(plain(k)), v) for k, v in value.items()]
        items.sort(key=lambda item: item[0].encode("utf-16-be"))
        return "{" + ",".join(f"{_write_string(k)}:{_jcs_slow(v)}" for k, v in items) + "}"
    if kind is list or kind is tuple:
        return "[" + ",".join(_jcs_slow(inner) for inner in value) + "]"
    return _jcs_slow(_jcs_ready(value))


def es_number(value: float) -> str:
    """A float as ECMAScript's Number::toString writes it (RFC 8785 section 3.2.2.3)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot hash {value!r}: not a JSON number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # value = 0.DIGITS x 10^point
    point = (
        len(whole) + int(exponent or 0)
        if whole != "0"
        else int(exponent or 0) - (len(fraction) - len(fraction.lstrip("0")))
    )
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    head = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{sign}{head}e{'+' if power >= 0 else '-'}{abs(power)}"
