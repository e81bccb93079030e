"""A handoff read as an A2A task, and each of its events as an update (docs/a2a.md).

Ids: task id = handoff id, ``contextId`` = chain id. The history is one message per
event: the sender's request and replies as they were sent (``as_sent``) or built from
the payload, every other event as the acting agent's message. The completion's (or
failure's) result is the task's one artifact. Where A2A has no field, the ledger's
extension (``faces/a2a/extension.py``) carries it in ``metadata``. Here, below the
faces, because the A2A face answers with these tasks and the reactor pushes these
updates to push-notification endpoints (:mod:`.a2a_push`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from a2a.types.a2a_pb2 import (
    Message,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)
from google.protobuf.json_format import ParseDict

from handoff_ledger.adapters.services.a2a_remote import EXTENSION_URI as URI
from handoff_ledger.adapters.services.a2a_states import task_state
from handoff_ledger.adapters.services.documents import iso, jsonable
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import OPEN_STATES

__all__ = [
    "Update",
    "artifact_of",
    "message_of",
    "state_of",
    "task_document",
    "task_of",
    "updates_of",
]

Update = TaskStatusUpdateEvent | TaskArtifactUpdateEvent
QueuePosition = Callable[[Handoff], int | None]

_FROM_SENDER = {"Created", "Replied", "Cancelled", "Reassigned"}


def ledger_fields(handoff: Handoff, queue_position: int | None = None) -> dict[str, Any]:
    """The extension's view of a handoff: what A2A's task has no field for."""
    fields = {
        "position": handoff.version,
        "state": handoff.state.value,
        "sender": handoff.sender,
        "receiver": handoff.receiver,
        "kind": handoff.kind,
        "priority": handoff.priority,
        "deadline": iso(handoff.deadline_due),
        "eta": iso(handoff.eta),
        "next_update_due": iso(handoff.update_due) if handoff.state in OPEN_STATES else None,
        "queue_position": queue_position,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _event_text(event: Handoff.Event, fields: dict[str, Any]) -> str:
    name = type(event).__name__
    said = fields.get("message") or fields.get("reason") or fields.get("trigger")
    if name == "StatusReported":
        return f"{fields.get('status')}: {said}" if said else str(fields.get("status"))
    if name == "Reassigned":
        return f"reassigned from {fields['from_receiver']} to {fields['to_receiver']}: {said}"
    return f"{name.lower()}: {said}" if said else name.lower()


def message_of(event: Handoff.Event) -> dict[str, Any]:
    """One event as an A2A message (JSON): as sent when it came from A2A, else built."""
    fields = {k: jsonable(v) for k, v in vars(event).items()}
    name = type(event).__name__
    task_id, context_id = str(event.originator_id), str(event.chain_id)
    marker = {"position": event.originator_version, "event": name, "by": event.by}
    as_sent = fields.get("as_sent")
    if isinstance(as_sent, dict):
        message = dict(as_sent)
        metadata = dict(message.get("metadata") or {})
        metadata[URI] = {**dict(metadata.get(URI) or {}), **marker}
        return {**message, "taskId": task_id, "contextId": context_id, "metadata": metadata}
    parts: list[dict[str, Any]] = [{"text": _event_text(event, fields)}]
    data = {"Created": "payload", "Replied": "data", "Completed": "result", "Failed": "result"}
    if fields.get(data.get(name, "")) is not None:
        parts.append({"data": fields[data[name]], "mediaType": "application/json"})
    return {
        "messageId": f"{task_id}:{event.originator_version}",
        "taskId": task_id,
        "contextId": context_id,
        "role": "ROLE_USER" if name in _FROM_SENDER else "ROLE_AGENT",
        "parts": parts,
        "metadata": {URI: marker},
    }


def artifact_of(handoff: Handoff) -> dict[str, Any] | None:
    """The result the receiver handed back, as the task's artifact (None without one)."""
    if handoff.result is None:
        return None
    return {
        "artifactId": f"{handoff.id}:result",
        "name": "result",
        "parts": [{"data": handoff.result, "mediaType": "application/json"}],
    }


def task_of(events: list[Handoff.Event], *, queue_position: int | None = None) -> Task:
    """The task of a handoff's ``events`` (its full history, oldest first), with every
    message in its history (the SDK's ``apply_history_length`` trims it).

    Built as protobuf directly, each message parsed once (the status repeats the last):
    this is on the path of every answer.
    """
    handoff = _fold(events)
    history = [_parsed(event) for event in events]
    task = Task(id=str(handoff.id), context_id=str(handoff.chain_id), history=history)
    task.status.state = task_state(handoff.state)
    task.status.message.CopyFrom(history[-1])
    task.status.timestamp.FromDatetime(events[-1].timestamp)
    artifact = artifact_of(handoff)
    if artifact is not None:
        ParseDict(artifact, task.artifacts.add())
    task.metadata.update({URI: ledger_fields(handoff, queue_position)})
    return task


def task_document(
    events: list[Handoff.Event], *, queue_position: int | None = None
) -> dict[str, Any]:
    """The task of ``events`` as the SDK prints it (``MessageToDict(task_of(events))``),
    built as JSON without protobuf: the same document (numbers in ``Struct`` and
    ``Value`` fields as floats, timestamps as protobuf prints them), keys perhaps in
    another order. A send's answer is built on every request, and protobuf's parse
    and print of a fresh history cost more than recording it
    (``tests/unit/test_a2a_task_document.py`` holds the two equal)."""
    handoff = _fold(events)
    history = [_message_document(event) for event in events]
    document: dict[str, Any] = {
        "id": str(handoff.id),
        "contextId": str(handoff.chain_id),
        "status": {
            "state": TaskState.Name(task_state(handoff.state)),
            "message": history[-1],
            "timestamp": timestamp_text(events[-1].timestamp),
        },
    }
    artifact = artifact_of(handoff)
    if artifact is not None:
        document["artifacts"] = [_as_printed(artifact)]
    document["history"] = history
    document["metadata"] = {URI: _as_printed(ledger_fields(handoff, queue_position))}
    return document


def timestamp_text(moment: datetime) -> str:
    """A time as protobuf's ``Timestamp`` prints it in JSON: UTC, ``Z``, and 0, 3 or 6
    fraction digits (the fewest that hold it)."""
    moment = moment.astimezone(UTC)
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    micros = moment.microsecond
    if micros == 0:
        return text + "Z"
    if micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}Z"
    return f"{text}.{micros:06d}Z"


def _message_document(event: Handoff.Event) -> dict[str, Any]:
    message = message_of(event)
    printed = {name: value for name, value in message.items() if name != "metadata"}
    printed["parts"] = [_part_document(part) for part in message["parts"]]
    printed["metadata"] = _as_printed(message["metadata"])
    return printed


def _part_document(part: dict[str, Any]) -> dict[str, Any]:
    if "data" not in part and "metadata" not in part:
        return part
    printed = dict(part)
    for name in ("data", "metadata"):
        if name in printed:
            printed[name] = _as_printed(printed[name])
    return printed


def _as_printed(value: Any) -> Any:
    """A JSON value as protobuf prints a ``Value``/``Struct``: every number a float."""
    if isinstance(value, dict):
        return {key: _as_printed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_printed(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def updates_of(events: list[Handoff.Event], after: int) -> list[Update]:
    """The updates of the events after version ``after``, in order: each event's status
    (with its message), the result's artifact first when one arrives."""
    updates: list[Update] = []
    handoff: Any = None
    for event in events:
        had_result = handoff is not None and handoff.result is not None
        handoff = event.mutate(handoff)
        if event.originator_version <= after:
            continue
        artifact = artifact_of(handoff)
        if artifact is not None and not had_result:
            updates.append(
                ParseDict(
                    {
                        "taskId": str(handoff.id),
                        "contextId": str(handoff.chain_id),
                        "artifact": artifact,
                        "lastChunk": True,
                    },
                    TaskArtifactUpdateEvent(),
                )
            )
        update = TaskStatusUpdateEvent(task_id=str(handoff.id), context_id=str(handoff.chain_id))
        update.status.state = task_state(handoff.state)
        update.status.message.CopyFrom(_parsed(event))
        update.status.timestamp.FromDatetime(event.timestamp)
        update.metadata.update({URI: ledger_fields(handoff)})
        updates.append(update)
    return updates


def state_of(events: list[Handoff.Event]) -> TaskState:
    """The task's state after ``events`` (without building the task)."""
    return task_state(_fold(events).state)


def _fold(events: list[Handoff.Event]) -> Handoff:
    folded: Any = None
    for event in events:
        folded = event.mutate(folded)
    assert isinstance(folded, Handoff)
    return folded


_PARSED: OrderedDict[tuple[UUID, int, object], Message] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_KEPT = 4096
"""How many events' messages stay parsed: a blocking send or a stream rebuilds its
task's history at every update, and an event never changes."""


def _parsed(event: Handoff.Event) -> Message:
    # The hash tells apart two stores' events of one id (a key-derived id), in one process.
    key = (
        event.originator_id,
        event.originator_version,
        getattr(event, "hash", None) or event.timestamp,
    )
    with _PARSED_LOCK:
        found = _PARSED.get(key)
        if found is not None:
            _PARSED.move_to_end(key)
            return found
    message = proto_message(message_of(event))
    with _PARSED_LOCK:
        _PARSED[key] = message
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return message


def proto_message(document: dict[str, Any]) -> Message:
    """A message (JSON) as the SDK's type."""
    message = Message()
    ParseDict(document, message)
    return message
