"""The arguments of the MCP tools: the HTTP bodies' names, described for a model.

Each model is the tool's input schema (``model_json_schema()``) and its validator.
Field names are those of the HTTP request bodies (``adapters/http/bodies.py``); a
tool that acts on one handoff adds its ``id``. Unknown arguments are refused, so a
misspelt ``ack_whithin`` never passes silently. Durations and times stay text here
and are read by the domain's own parsers, so a bad one gets the CLI's message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AckArgs",
    "Arguments",
    "CancelArgs",
    "CompleteArgs",
    "DeclineArgs",
    "FailArgs",
    "GetArgs",
    "InboxArgs",
    "LogArgs",
    "NoteArgs",
    "NotificationsArgs",
    "OneHandoffArgs",
    "ReassignArgs",
    "ReplyArgs",
    "SendArgs",
    "StatusArgs",
    "TraceArgs",
    "WaitArgs",
]

DURATION = "a duration such as `45s`, `30m`, `2h`, `1h30m`, `1d`, or ISO 8601 (`PT30M`)"
LOG_PAGE = 20
"""``read_log``'s default page: a model reads a few events at a time, then reads on."""

_ID = (
    "The handoff's id (a UUID, as returned in `id` by send_handoff, my_inbox or read_log), "
    "or its first 8 or more hex digits if no other handoff's id starts with them."
)
_AS_OF = "Optional ISO 8601 time (e.g. `2026-11-25T09:00:00Z`): answer as things stood then."


class Arguments(BaseModel):
    """Base of every tool's arguments: unknown names are an error."""

    model_config = ConfigDict(extra="forbid")


class SendArgs(Arguments):
    """``send_handoff`` (the HTTP ``POST /handoffs`` body)."""

    to: str | None = Field(
        default=None,
        description="The agent that receives the work, e.g. `code_agent`. May be left out "
        "when `kind` is given and the protocol routes that kind to a receiver.",
    )
    kind: str | None = Field(
        default=None,
        description="The kind of work, e.g. `bug_report`. Under a protocol it must be a declared "
        "kind, whose defaults (receiver, priority, timers) and payload schema apply.",
    )
    trigger: str | None = Field(
        default=None, description="One line saying what happened, e.g. `Bug report detected`."
    )
    priority: str | None = Field(
        default=None,
        description="`low`, `medium`, `high` or `critical` (default: the kind's, else `medium`). "
        "Higher priority goes ahead in the receiver's queue.",
    )
    payload: dict[str, Any] | None = Field(
        default=None,
        description="A JSON object with everything the receiver needs to do the work "
        '(e.g. {"email_id": "msg_123", "customer": "jane@company.com", "issue": "..."}).',
    )
    ack_within: str | None = Field(
        default=None,
        description=f"How soon the receiver must acknowledge, as {DURATION}. "
        "If it has not acked by then, the handoff is escalated.",
    )
    deadline: str | None = Field(
        default=None,
        description=f"When the work must be completed: {DURATION} from now, "
        "or an ISO 8601 time. Escalated if missed.",
    )
    escalate_to: list[str] | None = Field(
        default=None,
        description="Agents to notify when a promise (ack, update, deadline) is missed, "
        'e.g. ["human:me"].',
    )
    key: str | None = Field(
        default=None,
        description="Idempotency key, e.g. the id of the email or ticket that triggered this. "
        "Sending again with a key you already used returns the first handoff "
        '(`"duplicate": true`) and creates nothing: use it whenever you might retry.',
    )
    parent_id: str | None = Field(
        default=None,
        description="The id of the handoff this work follows from (puts it in the same chain).",
    )


class OneHandoffArgs(Arguments):
    """A tool that acts on, or reads, one handoff."""

    id: str = Field(description=_ID)


class AckArgs(OneHandoffArgs):
    """``ack_handoff`` (the HTTP ack body, plus ``id``)."""

    eta: str | None = Field(
        default=None, description=f"When you expect to finish, as {DURATION} from now."
    )
    next_update: str | None = Field(
        default=None,
        description=f"When you will next report status, as {DURATION} from now. "
        "If you have not called report_status by then, the handoff is escalated.",
    )


class StatusArgs(OneHandoffArgs):
    """``report_status`` (the HTTP status body, plus ``id``)."""

    status: str = Field(
        description="`working` or `progress` (moving along), `stuck` (blocked) or `need_help` "
        "(blocked, asking for help): stuck and need_help are broadcast to whoever watches."
    )
    message: str | None = Field(
        default=None, description="What changed, in a sentence, e.g. `Reproduced on iOS 17`."
    )
    eta: str | None = Field(default=None, description=f"A new ETA, as {DURATION} from now.")
    next_update: str | None = Field(
        default=None, description=f"When you will report again, as {DURATION} from now."
    )


class CompleteArgs(OneHandoffArgs):
    """``complete_handoff`` (the HTTP complete body, plus ``id``)."""

    result: dict[str, Any] | None = Field(
        default=None,
        description="A JSON object with the outcome, for the sender and for any follow-up "
        'handoff the protocol creates (e.g. {"fix": "...", "reply": "..."}).',
    )


class DeclineArgs(OneHandoffArgs):
    """``decline_handoff`` (the HTTP decline body, plus ``id``)."""

    reason: str = Field(min_length=1, description="Why you will not do it (kept in the log).")


class FailArgs(OneHandoffArgs):
    """``fail_handoff`` (the HTTP fail body, plus ``id``)."""

    reason: str = Field(
        min_length=1, description="Why you could not finish it (kept in the log, told the sender)."
    )
    result: dict[str, Any] | None = Field(
        default=None,
        description="A JSON object with what the attempt left, for whoever picks it up "
        '(e.g. {"tried": ["rollback"], "log": "..."}).',
    )


class ReplyArgs(OneHandoffArgs):
    """``reply_to_handoff`` (the HTTP reply body, plus ``id``)."""

    message: str = Field(min_length=1, description="Your answer to the receiver.")
    data: dict[str, Any] | None = Field(
        default=None,
        description='A JSON object the receiver needs to go on (e.g. {"credentials": "vault:ci"}).',
    )


class GetArgs(OneHandoffArgs):
    """``get_handoff``."""

    as_of: str | None = Field(default=None, description=_AS_OF)


class TraceArgs(Arguments):
    """``trace_chain``."""

    id: str = Field(description="The id of any handoff in the chain, or the chain's own id.")
    as_of: str | None = Field(default=None, description=_AS_OF)


class InboxArgs(Arguments):
    """``my_inbox``."""

    limit: int = Field(
        default=100, ge=0, le=10_000, description="How many from the head of the queue (0: all)."
    )


class LogArgs(Arguments):
    """``read_log``."""

    since: int | str | None = Field(
        default=None,
        description="Where to start: a log position (entries after it; pass the `next` of the "
        "previous page to read on) or an ISO 8601 time. Default: the beginning.",
    )
    until: str | None = Field(default=None, description="An ISO 8601 time to stop at.")
    limit: int = Field(
        default=LOG_PAGE,
        ge=1,
        le=1000,
        description=f"At most this many entries (default {LOG_PAGE}: read on with `next`).",
    )
    hashes: bool = Field(
        default=False,
        description="Include each event's `prev_hash` and `hash` (only to check the hash "
        "chain yourself; they cost many characters).",
    )


class NotificationsArgs(Arguments):
    """``my_notifications``."""

    since: int = Field(
        default=0,
        ge=0,
        description="The cursor last seen (the `next` of the previous call); 0 for all.",
    )
    limit: int = Field(default=100, ge=1, le=1000, description="At most this many entries.")


class WaitArgs(Arguments):
    """``wait_for_handoff`` (the query of ``GET /agents/{name}/next``)."""

    wait: str | None = Field(
        default=None,
        description=f"How long to wait for work when there is none yet, as {DURATION}; at "
        "most 30s, so the call returns (default: do not wait). Call again to wait longer.",
    )
    worker: str = Field(
        default="mcp",
        description="Your worker id: keep the same one across calls and restarts, so your own "
        "unfinished handoff comes back to you first (default `mcp`).",
    )
    eta: str | None = Field(
        default=None, description=f"When you expect to finish, as {DURATION} from now."
    )
    next_update: str | None = Field(
        default=None,
        description=f"When you will next report status, as {DURATION} from now (default: "
        "the kind's, else 15m). Call report_status before it falls due, or the handoff is "
        "escalated and may be taken over by another worker.",
    )


class CancelArgs(OneHandoffArgs):
    """``cancel_handoff`` (the HTTP cancel body, plus ``id``)."""

    reason: str = Field(min_length=1, description="Why the work is withdrawn (kept in the log).")


class ReassignArgs(OneHandoffArgs):
    """``reassign_handoff`` (the HTTP reassign body, plus ``id``)."""

    to: str = Field(description="The agent that receives the work instead, e.g. `ops_agent`.")
    reason: str = Field(min_length=1, description="Why it moves (kept in the log, told both).")


class NoteArgs(OneHandoffArgs):
    """``add_note`` (the HTTP notes body, plus ``id``)."""

    message: str = Field(min_length=1, description="The note, e.g. `Customer called again`.")
