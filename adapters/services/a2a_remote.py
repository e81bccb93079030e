"""A remote A2A agent as the bridge talks to it: its client, and a handoff as a message.

The client is the official ``a2a-sdk`` one, made from the agent's card (the
protocol's ``a2a`` URL: the card itself, or the agent's base URL whose well-known
path serves it), with the bearer token read from the environment variable the
protocol names. What a remote task says back is read here too: its status text,
and its artifacts as a handoff's result.
"""

from __future__ import annotations

import os
from typing import Any
from uuid import UUID

import httpx
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import Artifact, Message, Part, Role, Task, TaskState
from a2a.utils.constants import TransportProtocol
from google.protobuf.json_format import MessageToDict, ParseDict

from handoff_ledger.adapters.services.documents import iso
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.protocol import AgentSpec

__all__ = [
    "EXTENSION_URI",
    "RemoteAgent",
    "TransientError",
    "message_id",
    "message_result",
    "outbound",
    "reply_message",
    "result_of",
    "status_text",
]

EXTENSION_URI = "urn:handoff-ledger:a2a:ledger:v1"
"""The ledger's A2A extension (docs/a2a.md): its object sits under this key of a metadata."""

TIMEOUT_SECONDS = 30.0


class TransientError(Exception):
    """The remote could not be reached or answered with a failure worth retrying."""


def message_id(handoff_id: UUID) -> str:
    """The id of the message delivering a handoff: the same on every resend."""
    return f"handoff:{handoff_id}"


def outbound(handoff: Handoff) -> Message:
    """A handoff as the A2A message that delivers it.

    Parts: the trigger as text, the payload as a data part. Metadata: the ledger's
    extension with the idempotency key (the handoff's id: a ledger on the other side
    makes one task of any number of resends), priority and deadline.
    """
    parts = [Part(text=handoff.trigger)] if handoff.trigger else []
    parts.append(
        ParseDict({"data": handoff.payload or {}, "mediaType": "application/json"}, Part())
    )
    fields: dict[str, Any] = {"key": str(handoff.id), "priority": str(handoff.priority)}
    if handoff.deadline_due is not None:
        fields["deadline"] = iso(handoff.deadline_due)
    sent = Message(
        message_id=message_id(handoff.id),
        role=Role.ROLE_USER,
        parts=parts,
        context_id=str(handoff.chain_id),
    )
    sent.metadata.update({EXTENSION_URI: fields})
    return sent


def reply_message(event: Handoff.Replied, task_id: str) -> Message:
    """A ledger ``reply`` passed on to the remote task (its id: handoff and version)."""
    parts = [Part(text=event.message)] if event.message else []
    if getattr(event, "data", None):
        parts.append(ParseDict({"data": event.data, "mediaType": "application/json"}, Part()))
    return Message(
        message_id=f"handoff:{event.originator_id}:{event.originator_version}",
        role=Role.ROLE_USER,
        parts=parts or [Part(text="")],
        task_id=task_id,
    )


def status_text(task: Task) -> str:
    """The text parts of the task's status message, or its state's name."""
    texts = [part.text for part in task.status.message.parts if part.text]
    if texts:
        return "\n".join(texts)
    return TaskState.Name(task.status.state).removeprefix("TASK_STATE_").lower()


def result_of(artifacts: list[Artifact]) -> dict[str, Any] | None:
    """A remote task's artifacts as a handoff's result.

    One artifact whose one part is a JSON object: that object. None: no result.
    Anything else: ``{"artifacts": [...]}``, each in A2A's JSON form.
    """
    if not artifacts:
        return None
    if len(artifacts) == 1 and len(artifacts[0].parts) == 1:
        part = MessageToDict(artifacts[0].parts[0])
        if isinstance(part.get("data"), dict):
            return dict(part["data"])
    return {"artifacts": [MessageToDict(a) for a in artifacts]}


def message_result(answer: Message) -> dict[str, Any] | None:
    """A direct answer (a Message instead of a task) as a result: its first JSON object
    part, else its text as ``{"message": ...}``."""
    texts = []
    for part in answer.parts:
        data = MessageToDict(part).get("data")
        if isinstance(data, dict):
            return dict(data)
        if part.text:
            texts.append(part.text)
    return {"message": "\n".join(texts)} if texts else None


class RemoteAgent:
    """One remote agent's client (made on first use, remade after a failure)."""

    def __init__(self, spec: AgentSpec) -> None:
        assert spec.a2a is not None
        self.name = spec.name
        self.url = spec.a2a
        self.token_env = spec.a2a_token_env
        self._http: httpx.AsyncClient | None = None
        self._client: Client | None = None

    def same_as(self, spec: AgentSpec) -> bool:
        """True while the protocol still declares this agent the same way."""
        return (spec.a2a, spec.a2a_token_env) == (self.url, self.token_env)

    async def client(self) -> Client:
        """The SDK client, from the agent's card."""
        if self._client is not None:
            return self._client
        headers = {}
        if self.token_env is not None:
            token = os.environ.get(self.token_env)
            if not token:
                raise TransientError(f"environment variable {self.token_env} is not set")
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(headers=headers, timeout=TIMEOUT_SECONDS)
        config = ClientConfig(
            httpx_client=self._http,
            streaming=False,
            polling=True,  # SendMessage answers at once; the bridge follows the task
            supported_protocol_bindings=[TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON],
        )
        parsed = httpx.URL(self.url)
        factory = ClientFactory(config)
        try:
            if parsed.path.endswith(".json"):
                base = str(parsed.copy_with(path="/", query=None, fragment=None)).rstrip("/")
                self._client = await factory.create_from_url(base, relative_card_path=parsed.path)
            else:
                self._client = await factory.create_from_url(self.url)
        except Exception:
            await self.close()
            raise
        return self._client

    async def close(self) -> None:
        """Forget the client (the next call makes a new one from a fresh card)."""
        client, http = self._client, self._http
        self._client = self._http = None
        if client is not None:
            await client.close()
        if http is not None:
            await http.aclose()
