"""The ledger's transcoder and the projections' JSON writer write what the library's
``json.JSONEncoder.encode`` writes, byte for byte (they only build the C encoder once)."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.transcoding import LedgerTranscoder
from handoff_ledger.domain.jsontext import writer
from handoff_ledger.projections.base import _default, to_json

text = st.text(max_size=8)  # lone surrogates included: both write them escaped alike
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text | st.uuids()
    | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=3))])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    Application.register_transcodings(Ledger.__new__(Ledger), transcoder)
    return transcoder


ours, library = _registered(LedgerTranscoder()), _registered(JSONTranscoder())


@given(st.dictionaries(text, values, max_size=6))
def test_the_ledgers_transcoder_writes_the_librarys_bytes(event_state: dict[str, object]) -> None:
    written = ours.encode(event_state)
    assert written == library.encode(event_state)
    assert ours.decode(written) == library.decode(written)


@given(values)
def test_the_projections_writer_writes_what_encode_writes(value: object) -> None:
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default)
    assert to_json(value) == encoder.encode(value)


@given(st.dictionaries(text, st.none() | st.integers() | st.floats() | text, max_size=6))
def test_a_writer_keeps_its_encoders_options(document: dict[str, object]) -> None:
    for options in (
        {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False},
        {"ensure_ascii": True},
    ):
        encoder = json.JSONEncoder(**options)  # type: ignore[arg-type]
        assert writer(encoder)(document) == encoder.encode(document)


def test_the_ledger_stores_with_its_own_transcoder() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        assert type(ledger.mapper.transcoder) is LedgerTranscoder
    finally:
        ledger.close()
