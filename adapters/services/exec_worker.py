"""``handoff work --exec CMD``: a program as a worker, its promises kept by the ledger.

For each handoff taken (:func:`services.work.wait_for_next`), CMD runs without a shell,
the handoff's payload as JSON on its standard input and its id in ``HANDOFF_ID``.
While it runs, a ``working`` status is reported before each update promise falls due;
at the handoff's deadline the program is killed. How it ends decides the outcome:

==========================  ===========================================================
exit 0                      complete; the result is stdout if it is a JSON object, else
                            ``{"output": stdout}``
exit 3                      decline; the reason is stderr (or "declined by CMD")
exit 4                      fail; the reason is stderr (or "failed in CMD")
anything else, a signal,    report ``stuck`` with what happened; escalation takes it
the deadline                from there (the worker does not run it again until a reply
                            puts it back in progress)
==========================  ===========================================================
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.work import Taken
from handoff_ledger.domain.errors import HandoffError
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status

__all__ = ["EXIT_DECLINE", "EXIT_FAIL", "UPDATE_MARGIN", "Outcome", "run_taken"]

EXIT_DECLINE = 3
EXIT_FAIL = 4
UPDATE_MARGIN = 0.2
"""Report this share of the update interval before the promise falls due."""
_TEXT_LIMIT = 4000
"""The most of a program's stderr kept as a reason or message."""


@dataclass(frozen=True)
class Outcome:
    """What became of one handoff: ``completed``, ``declined``, ``failed`` or ``stuck``."""

    handoff_id: str
    outcome: str
    detail: str


def run_taken(
    ledger: Ledger,
    taken: Taken,
    argv: list[str],
    *,
    agent: str,
    now: Callable[[], datetime] | None = None,
) -> Outcome:
    """Run ``argv`` for one taken handoff and record how it ended (see the module)."""
    handoff = taken.handoff
    clock = now or ledger.clock.now
    env = {**os.environ, "HANDOFF_ID": str(handoff.id), "HANDOFF_AGENT": agent}
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
    except OSError as exc:
        return _stuck(ledger, handoff, agent, f"cannot run {argv[0]!r}: {exc.strerror or exc}")
    payload = json.dumps(handoff.payload or {}, ensure_ascii=False)
    stdout, stderr, ended = _communicate(ledger, process, payload, handoff, agent, clock)
    if ended == "deadline":
        return _stuck(ledger, handoff, agent, "killed at the handoff's deadline")
    if ended == "withdrawn":
        return Outcome(str(handoff.id), "withdrawn", "cancelled or reassigned while it ran")
    code = process.returncode
    reason = stderr.strip()[:_TEXT_LIMIT]
    try:
        if code == 0:
            ledger.complete(handoff.id, by=agent, result=_result(stdout))
            return Outcome(str(handoff.id), "completed", "")
        if code == EXIT_DECLINE:
            ledger.decline(handoff.id, by=agent, reason=reason or f"declined by {argv[0]}")
            return Outcome(str(handoff.id), "declined", reason)
        if code == EXIT_FAIL:
            ledger.fail(handoff.id, by=agent, reason=reason or f"failed in {argv[0]}")
            return Outcome(str(handoff.id), "failed", reason)
    except HandoffError as error:  # a result its kind refuses, say: a person must look
        return _stuck(ledger, handoff, agent, f"{argv[0]}'s outcome refused: {error.message}")
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return _stuck(ledger, handoff, agent, f"{argv[0]} ended with {how}: {reason}".strip(": "))


def _communicate(
    ledger: Ledger,
    process: subprocess.Popen[str],
    payload: str,
    handoff: Handoff,
    agent: str,
    clock: Callable[[], datetime],
) -> tuple[str, str, str]:
    """Feed the payload, keep the update promise while it runs, kill it at the deadline."""
    pending_input: str | None = payload
    while True:
        wait = _seconds_until_next_duty(handoff, clock())
        try:
            stdout, stderr = process.communicate(input=pending_input, timeout=wait)
            return stdout, stderr, "exited"
        except subprocess.TimeoutExpired:
            pending_input = None  # already written: communicate() goes on reading
        moment = clock()
        if handoff.deadline_due is not None and moment >= handoff.deadline_due:
            process.kill()
            stdout, stderr = process.communicate()
            return stdout, stderr, "deadline"
        if handoff.update_every:
            try:
                handoff = ledger.report_status(
                    handoff.id,
                    by=agent,
                    status=Status.WORKING,
                    next_update=timedelta(seconds=handoff.update_every),
                )
            except HandoffError:  # cancelled or reassigned meanwhile: stop the program
                process.kill()
                stdout, stderr = process.communicate()
                return stdout, stderr, "withdrawn"


def _seconds_until_next_duty(handoff: Handoff, moment: datetime) -> float | None:
    """How long the program may run before a report (or the deadline's kill) is due."""
    duties: list[float] = []
    if handoff.update_due is not None and handoff.update_every:
        ahead = handoff.update_every * UPDATE_MARGIN
        duties.append((handoff.update_due - moment).total_seconds() - ahead)
    if handoff.deadline_due is not None:
        duties.append((handoff.deadline_due - moment).total_seconds())
    return max(0.05, min(duties)) if duties else None


def _result(stdout: str) -> dict[str, Any]:
    try:
        parsed = json.loads(stdout)
    except (json.JSONDecodeError, RecursionError):
        parsed = None
    return parsed if isinstance(parsed, dict) else {"output": stdout[: _TEXT_LIMIT * 16]}


def _stuck(ledger: Ledger, handoff: Handoff, agent: str, message: str) -> Outcome:
    with suppress(HandoffError):  # closed meanwhile (cancelled, say): nothing is owed
        ledger.report_status(handoff.id, by=agent, status=Status.STUCK, message=message)
    return Outcome(str(handoff.id), "stuck", message)
