"""Who may do what to a handoff, and when: the lifecycle's rules in one place.

The aggregate calls these before it triggers an event, so a refused command never
produces one. Refusals raise :mod:`handoff_ledger.domain.errors` types that every
interface maps the same way.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from handoff_ledger.domain.errors import InvalidInput, InvalidTransition, NotPermitted

if TYPE_CHECKING:
    from handoff_ledger.domain.handoff import Handoff

__all__ = [
    "MAX_ESCALATION_TARGETS",
    "MAX_INPUT_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_SAFE_INTEGER",
    "RESERVED_NAMES",
    "is_reserved",
    "require_agent_name",
    "require_few_targets",
    "require_may_reply",
    "require_open",
    "require_receiver",
    "require_sender_or_admin",
    "require_storable",
    "require_text",
    "require_unreserved",
    "require_worker_name",
]

_AGENT_NAME = re.compile(r"[A-Za-z0-9_.:@/\-]{1,128}")


def require_agent_name(name: str, field: str) -> None:
    """Agent names are short identifiers such as ``code_agent`` or ``human:me``."""
    if not _AGENT_NAME.fullmatch(name or ""):
        raise InvalidInput(
            f"{field}: {name!r} is not an agent name "
            "(1-128 letters, digits and _ . : @ / -, e.g. code_agent or human:me)"
        )


RESERVED_NAMES = frozenset({"reactor", "ledger", "system"})
"""Names the ledger acts under itself (its reactor escalates and notes as ``reactor``)."""
RESERVED_PREFIXES = ("ledger:", "system:")
"""Prefixes kept for the ledger's own actors to come."""


def is_reserved(name: str) -> bool:
    """True for a name only the ledger itself may act under."""
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)


def require_unreserved(name: str, field: str) -> None:
    """No token, sender, acting agent or declared agent may take a reserved name.

    Otherwise anyone could write events indistinguishable from the ledger's own
    escalations, follow-ups and notes. The ledger's own code path (the reactor)
    records its events without passing through this check.
    """
    if is_reserved(name):
        raise InvalidInput(
            f"{field}: {name!r} is reserved for the ledger itself "
            "(reserved: reactor, ledger, system and names starting with ledger: or system:)"
        )


MAX_ESCALATION_TARGETS = 20
"""How many agents one handoff may name to escalate to: each is notified of every
escalation and every broadcast on the chain, so the feed grows with their number."""


def require_few_targets(targets: list[str]) -> None:
    """At most :data:`MAX_ESCALATION_TARGETS` distinct escalation targets."""
    count = len(set(targets))
    if count > MAX_ESCALATION_TARGETS:
        raise InvalidInput(
            f"escalate_to: {count} agents, more than the {MAX_ESCALATION_TARGETS} a handoff"
            " may name (escalate to a team agent that forwards instead)"
        )


def require_text(text: str, field: str) -> None:
    """Reasons and messages must say something (and hold no NUL character)."""
    if not text or not text.strip():
        raise InvalidInput(f"{field}: must not be empty")
    require_storable(text, field)


MAX_INPUT_BYTES = 1_048_576
"""The most a command may carry (1 MiB): an HTTP body, or a ``--payload``/``--result``
file or standard input on the command line."""

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer an event may carry: every JSON reader (JavaScript's included)
holds it exactly, and the hash's canonical form (RFC 8785) can write it."""

MAX_JSON_DEPTH = 32
"""How deep a payload, a result or any other JSON value of a command may nest.

An object or array is one level (``{"a": {"b": 1}}`` is two). Real payloads nest a
handful of levels; a value nested hundreds deep cannot be written back by every
reader (Python's and pydantic's encoders stop near 255 and 1,000 levels), and an
event is forever: it is refused before anything is recorded.
"""


def require_storable(value: object, field: str) -> None:
    """Valid Unicode with no NUL, finite numbers, integers within ±(2^53-1), at most
    :data:`MAX_JSON_DEPTH` deep.

    PostgreSQL text cannot hold NUL, and no store can encode a lone surrogate
    (``"\\ud800"`` in JSON, or bytes that are not UTF-8 on a command line): a
    recorded event carrying one would stop every view and reader of the log at that
    event. NaN and infinities are not JSON: Python's reader takes them, but an
    auditor's export reader would refuse the line, and NaN is not even equal to
    itself. All are refused before anything is recorded. The walk is iterative, so a
    value nested far too deep is refused, not a crash.
    """
    pending: list[tuple[object, str, int]] = [(value, field, 0)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, str):
            _require_plain_text(item, where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(f"{where}: {item!r} is not a JSON number")
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise InvalidInput(
                    f"{where}: {item} is beyond ±(2^53-1), the largest integer every JSON"
                    " reader holds exactly (send it as a string)"
                )
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_JSON_DEPTH:
                raise InvalidInput(
                    f"{field}: nested more than {MAX_JSON_DEPTH} levels deep (at {_shorten(where)})"
                )
            if isinstance(item, dict):
                for key in item:
                    _require_plain_text(str(key), where)
                inners = [(inner, f"{where}.{key}", depth + 1) for key, inner in item.items()]
            else:
                inners = [(inner, f"{where}.{i}", depth + 1) for i, inner in enumerate(item)]
            pending.extend(reversed(inners))  # depth first, in order: the first fault named


def _require_plain_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidInput(f"{where}: must not contain the NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise InvalidInput(
            f"{where}: is not valid Unicode: a lone surrogate (\\u{code:04x}) at character"
            f" {exc.start} (text that was not UTF-8, or a JSON escape of half a pair)"
        ) from None


def _shorten(path: str) -> str:
    return path if len(path) <= 60 else f"{path[:28]}…{path[-28:]}"


def require_open(handoff: Handoff, command: str) -> None:
    """Nothing but a note changes a completed, failed, declined or cancelled handoff."""
    if handoff.is_terminal:
        raise InvalidTransition(
            f"cannot {command} handoff {handoff.id}: it is {handoff.state.value}"
        )


def require_may_reply(handoff: Handoff, by: str, is_admin: bool) -> None:
    """A reply comes from the sender, an escalation target or an admin, never the receiver."""
    if by == handoff.receiver:
        raise NotPermitted(
            f"{by} cannot reply to handoff {handoff.id}: it is its receiver"
            " (report status, or add a note)"
        )
    if by != handoff.sender and by not in handoff.escalation_targets and not is_admin:
        raise NotPermitted(
            f"{by} cannot reply to handoff {handoff.id}: only its sender {handoff.sender},"
            " its escalation targets or an admin can (anyone can add a note)"
        )


_WORKER = re.compile(r"[A-Za-z0-9_.:@/\-]{1,128}")


def require_worker_name(worker: str | None) -> None:
    """A worker id is a short identifier, stable across the worker's restarts."""
    if worker is not None and not _WORKER.fullmatch(worker):
        raise InvalidInput(
            f"worker: {worker!r} is not a worker id (1-128 letters, digits and _ . : @ / -)"
        )


def require_receiver(handoff: Handoff, by: str, command: str) -> None:
    """Only the receiver acks, reports status on, completes or declines."""
    if by != handoff.receiver:
        raise NotPermitted(
            f"{by} cannot {command} handoff {handoff.id}: only its receiver {handoff.receiver} can"
        )


def require_sender_or_admin(handoff: Handoff, by: str, is_admin: bool, command: str) -> None:
    """Only the sender, or an admin, cancels or reassigns."""
    if by != handoff.sender and not is_admin:
        raise NotPermitted(
            f"{by} cannot {command} handoff {handoff.id}: only its sender "
            f"{handoff.sender} or an admin can"
        )
