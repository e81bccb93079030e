"""Request bodies of the HTTP API: the CLI's option names, in snake_case.

Durations and times are the strings the CLI takes (``45s``, ``1h30m``, ``PT30M``,
ISO 8601 times); they are parsed by the domain's own readers, so a bad one gets the
same message as on the command line. Unknown fields are refused (a typo such as
``ack_whithin`` must not pass silently).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from handoff_ledger.adapters.faces.http.boundary import nul_at

__all__ = [
    "AckBody",
    "CompleteBody",
    "FailBody",
    "NoteBody",
    "ReasonBody",
    "ReassignBody",
    "ReplyBody",
    "SendBody",
    "StatusBody",
]

_NAME = Field(min_length=1, max_length=200, description="An agent name, e.g. `code_agent`.")
_DURATION = "A duration: `45s`, `30m`, `2h`, `1h30m`, `1d` or ISO 8601 (`PT30M`)."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """No NUL in any text, payload or result (PostgreSQL text cannot hold it)."""
        fault = nul_at(data)
        if fault is not None:
            raise PydanticCustomError("unstorable_text", "{fault}", {"fault": fault})
        return data


class SendBody(_Body):
    """``POST /handoffs``: create a handoff; the sender is the caller."""

    to: str | None = Field(default=None, description="The receiver (default: the kind's route).")
    kind: str | None = Field(default=None, description="A kind declared by the protocol.")
    trigger: str | None = Field(default=None, description="What happened, in a line.")
    priority: str | None = Field(default=None, description="`low`, `medium`, `high`, `critical`.")
    payload: dict[str, Any] | None = Field(default=None, description="A JSON object.")
    ack_within: str | None = Field(default=None, description=_DURATION)
    deadline: str | None = Field(default=None, description=f"{_DURATION} Or an ISO 8601 time.")
    escalate_to: list[str] | None = Field(default=None, description="Whom to notify.")
    key: str | None = Field(
        default=None, description="Idempotency key (or the `Idempotency-Key` header)."
    )
    parent_id: str | None = Field(default=None, description="The handoff this follows from.")


class AckBody(_Body):
    """``POST /handoffs/{id}/ack``."""

    eta: str | None = Field(default=None, description=f"When the work will be done. {_DURATION}")
    next_update: str | None = Field(default=None, description=f"Next status report. {_DURATION}")


class StatusBody(_Body):
    """``POST /handoffs/{id}/status``."""

    status: str = Field(description="`working`, `progress`, `stuck` or `need_help`.")
    message: str | None = None
    eta: str | None = Field(default=None, description=_DURATION)
    next_update: str | None = Field(default=None, description=_DURATION)


class CompleteBody(_Body):
    """``POST /handoffs/{id}/complete``."""

    result: dict[str, Any] | None = Field(default=None, description="A JSON object.")


class FailBody(_Body):
    """``POST /handoffs/{id}/fail``."""

    reason: str = Field(min_length=1, description="Why the work could not be finished.")
    result: dict[str, Any] | None = Field(
        default=None, description="What the attempt left, a JSON object (not schema-checked)."
    )


class ReasonBody(_Body):
    """``POST /handoffs/{id}/decline`` and ``/cancel``."""

    reason: str = Field(min_length=1, description="Why (kept in the log).")


class ReassignBody(_Body):
    """``POST /handoffs/{id}/reassign``."""

    to: str = _NAME
    reason: str = Field(min_length=1, description="Why (kept in the log).")


class NoteBody(_Body):
    """``POST /handoffs/{id}/notes``."""

    message: str = Field(min_length=1)


class ReplyBody(_Body):
    """``POST /handoffs/{id}/reply``."""

    message: str = Field(min_length=1, description="The answer to the receiver.")
    data: dict[str, Any] | None = Field(default=None, description="A JSON object.")
