"""Every way a handoff command can fail, shared by the CLI, HTTP and MCP.

Each interface maps these to its own signal; the mapping lives in one place per
interface, never in the rules themselves::

    HandoffError                 base of everything below
    ├── InvalidInput             bad input: CLI exit 2, HTTP 4xx (422/400)
    │   ├── UnknownHandoff       no handoff with that id (HTTP 404)
    │   ├── UnknownAgent         agent not declared by the protocol in force
    │   ├── UnknownKind          kind not declared by the protocol in force
    │   ├── PayloadInvalid       payload or result fails its schema (names the field)
    │   └── ProtocolInvalid      the protocol file is malformed (names line and reason)
    └── Refused                  refused by the rules: CLI exit 1, HTTP 403/409
        ├── NotPermitted         this agent may not do this (HTTP 403)
        ├── InvalidTransition    the handoff's state forbids it (HTTP 409)
        └── ConcurrencyConflict  another agent's command won the race (HTTP 409)
"""

from __future__ import annotations

__all__ = [
    "ConcurrencyConflict",
    "HandoffError",
    "InvalidInput",
    "InvalidTransition",
    "NotPermitted",
    "PayloadInvalid",
    "ProtocolInvalid",
    "Refused",
    "UnknownAgent",
    "UnknownHandoff",
    "UnknownKind",
]


class HandoffError(Exception):
    """Base class: a command that failed and wrote nothing.

    ``code`` is a stable, machine-readable name for the failure (the ``--json``
    error document and the HTTP body carry it).
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HandoffError):
    """The command itself is malformed: fix the input and try again."""

    code = "invalid_input"


class UnknownHandoff(InvalidInput):
    """No handoff has this id."""

    code = "unknown_handoff"


class UnknownAgent(InvalidInput):
    """An agent name is not declared by the protocol in force."""

    code = "unknown_agent"


class UnknownKind(InvalidInput):
    """A handoff kind is not declared by the protocol in force."""

    code = "unknown_kind"


class PayloadInvalid(InvalidInput):
    """A payload or result fails its kind's schema; ``field`` is the dotted path."""

    code = "payload_invalid"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class ProtocolInvalid(InvalidInput):
    """A protocol file is malformed; ``line`` is 1-based, 0 when unknown."""

    code = "protocol_invalid"

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class Refused(HandoffError):
    """The input is well formed but the rules of the protocol forbid the command."""

    code = "refused"


class NotPermitted(Refused):
    """The acting agent is not the one the rule allows (e.g. only the receiver acks)."""

    code = "not_permitted"


class InvalidTransition(Refused):
    """The handoff's state forbids the command (e.g. anything on a completed handoff)."""

    code = "invalid_state"


class ConcurrencyConflict(Refused):
    """Another command on the same handoff was recorded first and this one lost."""

    code = "conflict"
