"""The hash's canonical form is RFC 8785 (JCS), checked against the reference writer.

``integrity.jcs`` runs on the C JSON encoder where that writes JCS exactly and falls
back to a pure-Python writer where it would not (tiny or huge floats, keys beyond
the Basic Multilingual Plane); ``rfc8785`` is the Trail of Bits implementation.
"""

from __future__ import annotations

import struct

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.integrity import MAX_SAFE_INTEGER, es_number, jcs
from handoff_ledger.domain.rules import require_storable

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
