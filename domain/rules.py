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
    "require_agent_name",
    "require_open",
    "require_receiver",
    "require_sender_or_admin",
    "require_storable",
    "require_text",
]

_AGENT_NAME = re.compile(r"[A-Za-z0-9_.:@/\-]{1,128}")


def require_agent_name(name: str, field: str) -> None:
    """Agent names are short identifiers such as ``code_agent`` or ``human:me``."""
    if not _AGENT_NAME.fullmatch(name or ""):
        raise InvalidInput(
            f"{field}: {name!r} is not an agent name "
            "(1-128 letters, digits and _ . : @ / -, e.g. code_agent or human:me)"
        )


def require_text(text: str, field: str) -> None:
    """Reasons and messages must say something (and hold no NUL character)."""
    if not text or not text.strip():
        raise InvalidInput(f"{field}: must not be empty")
    require_storable(text, field)


def require_storable(value: object, field: str) -> None:
    """No NUL character, and no NaN or infinity, anywhere in ``value``.

    PostgreSQL text cannot hold NUL: a recorded event carrying one would stop every
    view and reader of the log at that event. NaN and infinities are not JSON:
    Python's reader takes them, but an auditor's export reader would refuse the
    line, and NaN is not even equal to itself. Both are refused before anything is
    recorded.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(f"{field}: must not contain the NUL character (\\u0000)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field}: {value!r} is not a JSON number")
    elif isinstance(value, dict):
        for key, item in value.items():
            require_storable(key, field)
            require_storable(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            require_storable(item, f"{field}.{index}")


def require_open(handoff: Handoff, command: str) -> None:
    """Nothing but a note changes a completed, declined or cancelled handoff."""
    if handoff.is_terminal:
        raise InvalidTransition(
            f"cannot {command} handoff {handoff.id}: it is {handoff.state.value}"
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
