"""What every MCP tool is made of: its spec, the backend it runs on, shared wording."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from handoff_ledger.adapters.faces.mcp.arguments import Arguments
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.adapters.views import Views

__all__ = ["HANDOFF_DOC", "REFUSED", "Backend", "ToolSpec"]


class Backend(Protocol):
    """What the tools need: the ledger, and its views caught up to the log."""

    @property
    def ledger(self) -> Ledger: ...

    def fresh_views(self) -> Views: ...


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it tells the model, its arguments, what it runs."""

    name: str
    title: str
    description: str
    arguments: type[Arguments]
    run: Callable[[Backend, Caller, Any], Reply]
    read_only: bool = False
    idempotent: bool = False


HANDOFF_DOC = (
    "Returns the handoff as a JSON document: id, chain_id, sender, receiver, kind, "
    "priority, payload, state, status, timers (ack_due, update_due, deadline), result, reason."
)
REFUSED = (
    'A refusal or bad argument returns an error {"error": {"code", "message"}} and changes nothing.'
)
