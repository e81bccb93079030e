"""The work loop's parts both clients share: a handler's :class:`Job`, the two declared
outcomes (:class:`Fail`, :class:`Decline`), and how a handler's ending becomes a call.

How a handler ends decides what is recorded:

==============================  =====================================================
returns a dict (or None)        ``complete`` with it as the result
raises ``Fail(reason, result)``  ``fail``: tried and could not
raises ``Decline(reason)``       ``decline``: will not do it
raises anything else            report ``stuck`` with the exception's text (never a
                                traceback: that goes to this process's log); escalation
                                takes it from there, and this worker does not take it
                                again until a reply puts it back in progress
==============================  =====================================================
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from handoff_ledger.client._calls import Call, Document, Duration, duration, path, query
from handoff_ledger.client._errors import Conflict, Forbidden, NotFound

__all__ = [
    "DEFAULT_NEXT_UPDATE",
    "DEFAULT_WORKER",
    "LONG_POLL",
    "MIN_REPORT_GAP",
    "UPDATE_MARGIN",
    "WITHDRAWN",
    "Decline",
    "Ending",
    "Fail",
    "Job",
    "ending",
    "next_call",
    "report_every",
    "slot_workers",
    "status_call_args",
    "stuck",
    "stuck_text",
    "update_every",
]

DEFAULT_WORKER = "main"
"""The worker id when none is named (the server's default too)."""
DEFAULT_NEXT_UPDATE = "5m"
"""The update promise a work loop makes when none is named: its reports keep it."""
UPDATE_MARGIN = 0.2
"""Report this share of the update interval before the promise falls due."""
LONG_POLL = 2.0
"""Seconds one ``next`` waits for work: how soon a stop is noticed while idle."""
MIN_REPORT_GAP = 1.0
"""Seconds between two reports of the handler's progress (the latest one is sent)."""
_TEXT_LIMIT = 4000
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[dhms])+")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}

WITHDRAWN = (Conflict, Forbidden, NotFound)
"""Answers meaning the handoff is no longer this worker's: cancelled, reassigned, closed."""


class Fail(Exception):
    """Raise from a handler when it tried and could not finish: the handoff is failed.

    ``reason`` is kept in the log and told the sender; ``result`` is what the attempt
    left (findings, logs, partial output).
    """

    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


class Decline(Exception):
    """Raise from a handler for work it will not do: the handoff is declined, ``reason`` why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Job:
    """One taken handoff, as a handler sees it: the document, and a way to report progress.

    ``handoff`` is the document ``next`` answered (``taken`` says ``taken``, ``resumed``
    or ``taken_over``: a resumed handoff may have been half done by this worker before
    a restart). ``withdrawn`` turns true if a status report found the handoff cancelled
    or reassigned: a long handler may check it and stop early.
    """

    def __init__(self, handoff: Document, worker: str) -> None:
        self.handoff = handoff
        self.worker = worker
        self.withdrawn = False
        self._lock = threading.Lock()
        self._message: str | None = None
        self._poke: Callable[[], None] = lambda: None

    @property
    def id(self) -> str:
        """The handoff's id."""
        return str(self.handoff["id"])

    @property
    def payload(self) -> dict[str, Any]:
        """The handoff's payload (``{}`` when it has none)."""
        return dict(self.handoff.get("payload") or {})

    def progress(self, message: str) -> None:
        """Say how far the work is: reported soon (a ``progress`` status), renewing the
        update promise. Calls close together are merged: the latest message is sent."""
        with self._lock:
            self._message = message
        self._poke()

    def on_progress(self, poke: Callable[[], None]) -> None:
        """The runner's hook: called (from any thread) when the handler reports progress."""
        self._poke = poke

    def has_news(self) -> bool:
        """True when the handler reported progress not sent yet."""
        with self._lock:
            return self._message is not None

    def take_message(self) -> str | None:
        """The progress message not reported yet (and forget it)."""
        with self._lock:
            message, self._message = self._message, None
        return message


@dataclass(frozen=True)
class Ending:
    """How a handler ended, as the call that records it: ``outcome`` names it."""

    outcome: str
    detail: str
    record: Callable[[Any], Any]
    """Given the client, makes the call (its answer, or an awaitable of it)."""


def ending(job: Job, returned: object, error: BaseException | None) -> Ending:
    """The call a handler's ending asks for (see the module's table)."""
    hid = job.id
    if isinstance(error, Fail):
        return Ending(
            "failed", error.reason, lambda c: c.fail(hid, error.reason, result=error.result)
        )
    if isinstance(error, Decline):
        return Ending("declined", error.reason, lambda c: c.decline(hid, error.reason))
    if error is not None:
        return stuck(hid, stuck_text(error))
    if returned is not None and not isinstance(returned, dict):
        return stuck(hid, f"the handler returned {type(returned).__name__}, not a dict")
    return Ending("completed", "", lambda c: c.complete(hid, result=returned))


def stuck(hid: str, message: str) -> Ending:
    """Report ``stuck`` with ``message``: a person (or escalation) takes it from there."""
    return Ending("stuck", message, lambda c: c.status(hid, "stuck", message=message))


def stuck_text(error: BaseException) -> str:
    """An exception as one line for the log: its type and message, no traceback."""
    text = str(error).strip()
    name = type(error).__name__
    return (f"{name}: {text}" if text else name)[:_TEXT_LIMIT]


def update_every(handoff: Document) -> float | None:
    """The handoff's update interval in seconds (the document writes it as ``1h30m``)."""
    text = handoff.get("update_every")
    if isinstance(text, int | float):
        return float(text) or None
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)) or None


def report_every(handoff: Document) -> float | None:
    """Seconds between two status reports: a share before each update falls due."""
    every = update_every(handoff)
    return every * (1 - UPDATE_MARGIN) if every else None


def status_call_args(job: Job) -> tuple[str, str | None, timedelta | None]:
    """The status to report now: ``progress`` with the handler's news, else ``working``;
    the promise renewed for the same interval."""
    message = job.take_message()
    every = update_every(job.handoff)
    next_update = timedelta(seconds=every) if every else None
    return ("progress" if message else "working"), message, next_update


def slot_workers(worker: str, concurrency: int) -> list[str]:
    """One worker id per slot, stable across restarts: ``worker`` alone, or ``worker-1``…"""
    if concurrency < 1:
        raise ValueError(f"concurrency: {concurrency} is not 1 or more")
    if concurrency == 1:
        return [worker]
    return [f"{worker}-{slot}" for slot in range(1, concurrency + 1)]


def next_call(
    agent: str,
    *,
    wait: Duration | None,
    worker: str,
    eta: Duration | None,
    next_update: Duration | None,
) -> Call:
    """``GET /agents/{agent}/next``: take the next handoff (204: nothing to take)."""
    params = query(
        wait=duration(wait), worker=worker, eta=duration(eta), next_update=duration(next_update)
    )
    return Call("GET", path("agents", agent, "next"), params=params)
