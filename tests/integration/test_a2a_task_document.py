"""The A2A task built as JSON is the document protobuf prints for the same task.

The A2A fast path answers a send with :func:`task_document` (plain JSON) instead of
``MessageToDict(task_of(events))`` (protobuf): the two must print the same document
for every history: every event type, payloads of every JSON shape (numbers become
floats in ``Struct``), messages kept as an A2A client sent them, timestamps with and
without fractions. A pure function of the events: one SQLite store serves them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from a2a.types.a2a_pb2 import Message
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL
from handoff_ledger.adapters.faces.a2a.messages import read_message
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.a2a_task_view import (
    task_document,
    task_of,
    timestamp_text,
)
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.states import Status

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=8)
SENDER, RECEIVER = "inbox_monitor", "code_agent"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(texts, json_values, max_size=4)
ticks = st.sampled_from([0, 1, 1000, 123_456, 1_000_000, 60_000_000])
steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "ack",
                "working",
                "need_help",
                "reply",
                "complete",
                "fail",
                "decline",
                "cancel",
                "reassign",
            ]
        ),
        objects,
        ticks,
    ),
    max_size=5,
)
SEEN: Counter[str] = Counter()
TOURS = [  # every action recorded at least once, whatever hypothesis draws
    (
        True,
        True,
        [
            ("need_help", {}, 1),
            ("reply", {"n": 1, "x": [1.5]}, 1000),
            ("working", {}, 0),
            ("complete", {"ok": True, "n": 2}, 123_456),
        ],
    ),
    (False, False, [("reassign", {}, 1_000_000), ("fail", {"why": None}, 1)]),
    (False, True, [("decline", {}, 60_000_000)]),
    (True, False, [("cancel", {}, 1000)]),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, SimulatedClock]]:
    folder: Path = tmp_path_factory.mktemp("task-document")
    clock = SimulatedClock(START)
    ledger = open_ledger(f"sqlite:///{folder / 'handoff.db'}", clock=clock)
    ledger.apply_protocol(SEED_PROTOCOL, source="seed", by="human:me")
    yield ledger, clock
    ledger.close()
    assert {
        "sent as A2A",
        "sent",
        "ack",
        "working",
        "need_help",
        "reply",
        "complete",
        "fail",
        "decline",
        "cancel",
        "reassign",
    } <= set(SEEN), SEEN


def _as_sent(payload: dict[str, Any]) -> dict[str, Any]:
    message = Message()
    ParseDict(
        {
            "messageId": "m-1",
            "role": "ROLE_USER",
            "parts": [{"text": "Bug"}, {"data": payload}],
            "metadata": {"client": {"n": 3}},
        },
        message,
    )
    return read_message(message).as_sent


def _act(ledger: Ledger, handoff_id: Any, action: str, data: dict[str, Any]) -> None:
    receiver = ledger.get(handoff_id).receiver  # after a reassignment, the new one
    if action == "ack":
        ledger.ack(handoff_id, by=receiver, eta=timedelta(minutes=90))
    elif action in ("working", "need_help"):
        ledger.report_status(handoff_id, by=receiver, status=Status(action), message="on it")
    elif action == "reply":
        ledger.reply(handoff_id, by=SENDER, message="here", data=data)
    elif action == "complete":
        ledger.complete(handoff_id, by=receiver, result=data)
    elif action == "fail":
        ledger.fail(handoff_id, by=receiver, reason="could not", result=data or None)
    elif action == "decline":
        ledger.decline(handoff_id, by=receiver, reason="not mine")
    elif action == "cancel":
        ledger.cancel(handoff_id, by=SENDER, reason="never mind")
    else:
        ledger.reassign(handoff_id, by=SENDER, to="support_agent", reason="better placed")


def _printed(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(
    payload={"k": 0}, from_a2a=TOURS[0][0], acked_first=TOURS[0][1], steps=TOURS[0][2], first_tick=1
)
@example(
    payload={"k": 1}, from_a2a=TOURS[1][0], acked_first=TOURS[1][1], steps=TOURS[1][2], first_tick=1
)
@example(
    payload={"k": 2}, from_a2a=TOURS[2][0], acked_first=TOURS[2][1], steps=TOURS[2][2], first_tick=1
)
@example(
    payload={"k": 3}, from_a2a=TOURS[3][0], acked_first=TOURS[3][1], steps=TOURS[3][2], first_tick=1
)
@given(
    payload=objects,
    from_a2a=st.booleans(),
    acked_first=st.booleans(),
    steps=steps,
    first_tick=ticks,
)
def test_the_json_task_is_the_task_protobuf_prints(
    world: tuple[Ledger, SimulatedClock],
    payload: dict[str, Any],
    from_a2a: bool,
    acked_first: bool,
    steps: list[tuple[str, dict[str, Any], int]],
    first_tick: int,
) -> None:
    ledger, clock = world
    clock.advance(timedelta(microseconds=first_tick))
    as_sent = _as_sent(payload) if from_a2a else None
    sent = ledger.send(sender=SENDER, to=RECEIVER, trigger="Bug", payload=payload, as_sent=as_sent)
    SEEN["sent as A2A" if from_a2a else "sent"] += 1
    handoff_id = sent.handoff.id
    if acked_first:
        _act(ledger, handoff_id, "ack", {})
        SEEN["ack"] += 1
    for action, data, tick in steps:
        clock.advance(timedelta(microseconds=tick))
        try:
            _act(ledger, handoff_id, action, data)
        except HandoffError:  # refused by the rules in this state: nothing recorded
            continue
        SEEN[action] += 1
    events = ledger.history(handoff_id)
    for position in (None, 3):
        expected = MessageToDict(task_of(events, queue_position=position))
        assert _printed(task_document(events, queue_position=position)) == _printed(expected)


@settings(max_examples=300)
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    rounding=st.sampled_from([1, 1000, 1_000_000]),
)
def test_times_are_printed_as_protobuf_prints_a_timestamp(moment: datetime, rounding: int) -> None:
    moment = moment.replace(microsecond=moment.microsecond // rounding * rounding)
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    assert timestamp_text(moment) == stamp.ToJsonString()
