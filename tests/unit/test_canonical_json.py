"""The hash's canonical form is RFC 8785 (JCS), checked against the reference writer.

``integrity.jcs`` runs on the C JSON encoder where that writes JCS exactly and falls
back to a pure-Python writer where it would not (tiny or huge floats, keys beyond
the Basic Multilingual Plane); ``rfc8785`` is the Trail of Bits implementation.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.integrity import (
    HASH_FIELDS,
    MAX_SAFE_INTEGER,
    SCHEME,
    es_number,
    event_digest,
    jcs,
    plain,
)
from handoff_ledger.domain.rules import require_storable
from handoff_ledger.domain.timers import EscalationReason

safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
floats = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | floats | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_jcs_writes_what_the_reference_writes(value: object) -> None:
    assert jcs(value) == rfc8785.dumps(value)


@given(st.integers(0, 2**64 - 1))
def test_every_double_is_written_as_ecmascript_writes_it(bits: int) -> None:
    (value,) = struct.unpack("<d", bits.to_bytes(8, "little"))
    if value != value or value in (float("inf"), float("-inf")):
        return
    assert es_number(value) == rfc8785.dumps(value).decode()


def test_the_examples_a_javascript_port_disagreed_on() -> None:
    assert jcs({"f": 1.0}) == b'{"f":1}'
    assert jcs({"\U0001f600": 1, "\uffff": 2}) == '{"\U0001f600":1,"\uffff":2}'.encode()
    assert jcs([1e-7, 1e21, -0.0, 2.0**60]) == b"[1e-7,1e+21,0,1152921504606847000]"


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30])
def test_integers_beyond_2_53_are_refused_before_they_are_recorded(value: int) -> None:
    with pytest.raises(InvalidInput, match=r"payload\.a\.0: .*2\^53"):
        require_storable({"a": [value]}, "payload")
    require_storable({"a": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, True]}, "payload")


event_values = st.recursive(
    st.none() | st.booleans() | safe_ints | floats | text | st.uuids()
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))
    | st.sampled_from(list(EscalationReason)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)  # fmt: skip


utc_times = st.datetimes(timezones=st.just(UTC))
event_fields = st.fixed_dictionaries(
    {
        "by": text, "chain_id": st.uuids(), "reason": st.sampled_from(list(EscalationReason)),
        "level": safe_ints, "notified": st.lists(text, max_size=2),
        "timer_due": st.none() | utc_times, "next_due": utc_times, "message": st.none() | text,
    },
    optional={"extra": st.dictionaries(text, event_values, max_size=4), "rate": floats},
)  # fmt: skip


@given(
    event_fields | st.dictionaries(text, event_values, max_size=8),
    st.sampled_from(["Escalated", "Acked"]),
    st.uuids(),
    st.integers(1, 10**6),
    utc_times,
    st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_an_events_hash_is_the_sha256_of_its_document_as_the_reference_writes_it(
    data: dict[str, object],
    type_name: str,
    handoff_id: UUID,
    version: int,
    at: datetime,
    prev_hash: str | None,
) -> None:
    # event_digest builds the ready document itself (one walk of the fields); the
    # hash must be the one an auditor gets from the plain document and any JCS writer.
    document = {
        "scheme": SCHEME,
        "type": type_name,
        "handoff_id": str(handoff_id),
        "version": version,
        "at": plain(at),
        "prev_hash": prev_hash,
        "data": plain({k: v for k, v in data.items() if k not in HASH_FIELDS}),
    }
    expected = hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    digest = event_digest(
        type_name=type_name, handoff_id=handoff_id, version=version, at=at,
        prev_hash=prev_hash, data={**data, "hash": "x", "prev_hash": "y"}, scheme=SCHEME,
    )  # fmt: skip
    assert digest == expected
