"""One A2A message recorded in the ledger: a new handoff, or a reply on its task.

- No ``taskId``: ``send`` from the caller to the agent. kind = the extension's
  ``kind``, else the agent's only kind in the protocol, else free-form; payload = the
  first data part; trigger = the text parts. A ``contextId`` naming a handoff of the
  ledger makes the new handoff its child (same chain, so the same ``contextId``).
  The extension's ``key`` is the ledger's idempotency key: the same key from the same
  caller returns the task it created and records nothing.
- A ``taskId``: ``reply`` on that handoff (only its sender, an escalation target or
  an admin may); a blocked (input-required) handoff goes back to in progress.
Either way the whole message is kept in the event as the client sent it.
"""

from __future__ import annotations

from uuid import UUID

from a2a.types.a2a_pb2 import Message

from handoff_ledger.adapters.faces.a2a.extension import requested
from handoff_ledger.adapters.faces.a2a.messages import read_message
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.domain.errors import UnknownHandoff
from handoff_ledger.domain.handoff import Handoff

__all__ = ["Recorder"]


class Recorder:
    """Turns A2A messages into ledger commands (blocking: call it on a worker thread)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def record(self, caller: Caller, agent: str, message: Message) -> list[Handoff.Event]:
        """Record ``message`` from ``caller`` to ``agent``; the handoff's history."""
        inbound = read_message(message)
        if message.task_id:
            handoff_id = UUID(message.task_id)
            self.ledger.reply(
                handoff_id,
                by=caller.agent,
                message=inbound.text or "(data)",
                data=inbound.data,
                admin=caller.admin,
                as_sent=inbound.as_sent,
            )
            return self.ledger.history(handoff_id)
        asked = requested(inbound.metadata)
        outcome = self.ledger.send(
            sender=caller.agent,
            to=agent,
            kind=asked.kind,
            receivers_kind=True,  # without one: the agent's only kind, else free-form
            trigger=inbound.text,
            priority=asked.priority,
            payload=inbound.data,
            ack_within=asked.ack_within,
            deadline=asked.deadline,
            escalate_to=asked.escalate_to,
            key=asked.key,
            parent_id=self._parent(message.context_id),
            as_sent=inbound.as_sent,
        )
        if outcome.recorded:
            return list(outcome.recorded)
        return self.ledger.history(outcome.handoff.id)  # a duplicate: the task it made

    def _parent(self, context_id: str) -> UUID | None:
        """The handoff a ``contextId`` names (a chain's first handoff), if any."""
        try:
            candidate = UUID(context_id)
        except ValueError:
            return None
        try:
            self.ledger.get(candidate)
        except UnknownHandoff:
            return None
        return candidate
