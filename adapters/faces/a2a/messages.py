"""From an A2A message to what the ledger records (docs/a2a.md, "From message to handoff").

The payload is the first data part (a JSON object); text parts, joined, are the
trigger (or a reply's message). Files (``raw``, ``url``) are refused with A2A's
ContentTypeNotSupported: the ledger stores JSON only. The whole message, as the
client sent it, is kept in the event (``as_sent``), under the same hostile-input
limits as any other field (``rules.require_storable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from a2a.types.a2a_pb2 import Message, Role
from a2a.utils.errors import ContentTypeNotSupportedError
from google.protobuf.json_format import MessageToDict

from handoff_ledger.domain import rules
from handoff_ledger.domain.errors import InvalidInput

__all__ = ["Inbound", "read_message"]


@dataclass(frozen=True)
class Inbound:
    """A message read: its text, its first data part, and itself as sent (JSON)."""

    text: str | None
    data: dict[str, Any] | None
    as_sent: dict[str, Any]
    metadata: dict[str, Any]


def read_message(message: Message) -> Inbound:
    """The parts of ``message`` the ledger records; bad input names its field.

    The fields A2A requires of a message are checked here (the SDK's generic
    required-field walk cost about a third of a send's CPU).
    """
    if not message.message_id:
        raise InvalidInput("message.messageId: required")
    if message.role == Role.ROLE_UNSPECIFIED:
        raise InvalidInput("message.role: required (ROLE_USER)")
    if not message.parts:
        raise InvalidInput("message.parts: a text or data part is required")
    as_sent = MessageToDict(message, preserving_proto_field_name=False)
    rules.require_storable(as_sent, "message")
    texts: list[str] = []
    data: dict[str, Any] | None = None
    for index, part in enumerate(as_sent.get("parts") or []):
        where = f"message.parts[{index}]"
        if "raw" in part or "url" in part:
            raise ContentTypeNotSupportedError(
                f"{where}: files are not stored by the ledger (send text or data parts)"
            )
        if "text" in part:
            texts.append(part["text"])
        elif "data" in part and data is None:
            if not isinstance(part["data"], dict):
                raise InvalidInput(f"{where}.data: the payload must be a JSON object")
            data = part["data"]
    if not texts and data is None:
        raise InvalidInput("message.parts: a text or data part is required")
    text = "\n".join(texts) if texts else None
    return Inbound(text=text, data=data, as_sent=as_sent, metadata=as_sent.get("metadata") or {})
