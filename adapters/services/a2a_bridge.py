"""The A2A bridge: handoffs to remote A2A agents delivered, their tasks followed.

An agent the protocol declares with ``a2a = URL`` is a remote A2A agent. Each pass
(``handoff a2a-bridge``) looks at every such agent's open handoffs and:

1. **delivers** each one not delivered yet: ``SendMessage`` (answered at once) with a
   message id derived from the handoff's id and the ledger extension's idempotency
   key, then records the remote task's id in ``hl_a2a_tasks`` (:mod:`.a2a_bridge_record`);
2. **passes on** each ledger ``reply`` to the remote task, as a message on it;
3. **follows** the remote task (``GetTask``) and records each status it has not acted
   on yet as that agent's own move: ``submitted`` → ack, ``working`` → status
   ``working``, ``input-required``/``auth-required`` → status ``need_help``,
   ``completed`` → complete (the artifacts as the result), ``failed`` → fail,
   ``canceled``/``rejected`` → decline with the remote's reason;
4. **cancels** the remote task of a handoff cancelled or reassigned in the ledger.

The bridge acts as the remote agent (``by`` is the agent's name): like the reactor
it opens the store itself, so it is trusted as the reactor is. Every write is
checked against the handoff's state before it is made, and its progress is in the
ledger's database, so a bridge killed at any instruction resumes without recording
a state twice. A send whose answer was lost is sent again, same message id, same
key: a ledger (or any server honouring the key) makes no second task of it; a
server that ignores the key sees the same message twice (docs/a2a.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from a2a.client import A2AClientError, Client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    SendMessageConfiguration,
    SendMessageRequest,
    Task,
    TaskState,
)
from a2a.utils.errors import A2AError, InternalError, TaskNotFoundError

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.a2a_bridge_record import RemoteTask, RemoteTasks
from handoff_ledger.adapters.services.a2a_remote import (
    RemoteAgent,
    TransientError,
    message_result,
    outbound,
    reply_message,
    result_of,
    status_text,
)
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.errors import HandoffError, InvalidInput, Refused
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import State, Status
from handoff_ledger.projections.base import us

__all__ = ["Bridge", "BridgePass"]

log = logging.getLogger(__name__)

CONCURRENCY = 16
"""Handoffs of one agent in flight at once (sends and task reads overlap)."""

TERMINAL = {
    TaskState.TASK_STATE_COMPLETED,
    TaskState.TASK_STATE_FAILED,
    TaskState.TASK_STATE_CANCELED,
    TaskState.TASK_STATE_REJECTED,
}
INTERRUPTED = {TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED}


@dataclass
class BridgePass:
    """What one pass did: deliveries, recorded moves, replies passed on, failures."""

    delivered: list[tuple[str, str, str]] = field(default_factory=list)
    recorded: list[tuple[str, str, str]] = field(default_factory=list)
    replies: list[tuple[str, int]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


class _Down(Exception):
    """The agent's remote failed this pass: its other handoffs wait for the next one."""


class Bridge:
    """Delivers handoffs to remote A2A agents and records what their tasks do."""

    def __init__(self, ledger: Ledger, views: Views | None = None) -> None:
        self.ledger = ledger
        self.views = views or Views(ledger)
        self.tasks = RemoteTasks(self.views.store)
        self.remotes: dict[str, RemoteAgent] = {}

    async def close(self) -> None:
        """Close every remote client."""
        for remote in self.remotes.values():
            await remote.close()
        self.remotes.clear()

    async def run_forever(
        self,
        stop: threading.Event,
        interval: float = 1.0,
        on_pass: Callable[[BridgePass], None] | None = None,
    ) -> None:
        """Pass after pass, ``interval`` apart, until ``stop`` is set."""
        while not stop.is_set():
            try:
                report = await self.run_once()
            except HandoffError as error:  # a bad protocol entry must not stop the bridge
                log.warning("a2a-bridge: %s", error.message)
            else:
                if on_pass is not None:
                    on_pass(report)
            await asyncio.to_thread(stop.wait, interval)

    async def run_once(self) -> BridgePass:
        """One pass over every remote agent's open handoffs."""
        report = BridgePass()
        self.views.catch_up()
        self.tasks.ensure()
        for remote in self._remotes():
            try:
                await self._agent_pass(remote, report)
            except _Down:
                await remote.close()  # a fresh card and connection next pass
        return report

    def _remotes(self) -> list[RemoteAgent]:
        current = self.ledger.protocol_in_force()
        declared = {} if current is None else current.protocol.agents
        for name in list(self.remotes):
            spec = declared.get(name)
            if spec is None or not self.remotes[name].same_as(spec):
                del self.remotes[name]  # its client closes with the event loop's transports
        for name, spec in declared.items():
            if spec.a2a is not None and name not in self.remotes:
                self.remotes[name] = RemoteAgent(spec)
        return [self.remotes[name] for name in sorted(self.remotes)]

    async def _agent_pass(self, remote: RemoteAgent, report: BridgePass) -> None:
        inbox = [str(row["handoff_id"]) for row in self.views.read.inbox(remote.name)]
        followed = {task.handoff_id: task for task in self.tasks.open_for(remote.name)}
        order = inbox + [h for h in followed if h not in set(inbox)]
        down: list[str] = []
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(handoff_id: str) -> None:
            async with gate:
                if down:
                    return
                try:
                    await self._handoff(remote, UUID(handoff_id), followed.get(handoff_id), report)
                except (TransientError, A2AClientError, InternalError, OSError) as error:
                    if not down:
                        down.append(f"{type(error).__name__}: {error}")
                except HandoffError as error:  # the ledger refused: say so, go on
                    report.errors.append((handoff_id, error.message))

        await asyncio.gather(*(one(h) for h in order))
        if down:
            report.errors.append((remote.name, down[0]))
            log.warning("a2a-bridge: %s unreachable: %s", remote.name, down[0])
            raise _Down

    async def _handoff(
        self, remote: RemoteAgent, handoff_id: UUID, row: RemoteTask | None, report: BridgePass
    ) -> None:
        handoff = self.ledger.get(handoff_id)
        if row is None:
            row = self.tasks.get(str(handoff_id))
        if row is None:
            if handoff.is_open and handoff.receiver == remote.name:
                await self._deliver(remote, handoff, report)
            return
        if row.closed:
            return
        client = await remote.client()
        if handoff.state is State.CANCELLED or handoff.receiver != remote.name:
            await self._cancel(client, row, report)
            return
        if not handoff.is_open:  # completed, failed or declined: recorded already
            self.tasks.update(row.handoff_id, closed=True)
            return
        await self._pass_replies(client, handoff, row, report)
        try:
            task = await client.get_task(GetTaskRequest(id=row.task_id))
        except TaskNotFoundError:
            reason = f"the remote A2A agent lost task {row.task_id} (TaskNotFound)"
            self._record(handoff, remote.name, "fail", report, reason=reason)
            self.tasks.update(row.handoff_id, closed=True)
            return
        self._reconcile(handoff, row, task, report)

    async def _deliver(self, remote: RemoteAgent, handoff: Handoff, report: BridgePass) -> None:
        client = await remote.client()
        request = SendMessageRequest(
            message=outbound(handoff),
            configuration=SendMessageConfiguration(return_immediately=True),
        )
        try:
            answers = [answer async for answer in client.send_message(request)]
        except (A2AClientError, InternalError):
            raise
        except A2AError as refused:  # the remote refused the message itself
            reason = f"refused by the remote A2A agent: {type(refused).__name__}: {refused}"
            self._record(handoff, remote.name, "decline", report, reason=reason)
            return
        answer = answers[-1]
        if answer.HasField("message"):  # a direct answer: the work is done
            result = message_result(answer.message)
            self._record(handoff, remote.name, "complete", report, result=result)
            return
        task = answer.task
        self.tasks.delivered(
            str(handoff.id), remote.name, task.id, us(self.ledger.clock.now()) or 0
        )
        report.delivered.append((str(handoff.id), remote.name, task.id))
        row = RemoteTask(str(handoff.id), remote.name, task.id, None, 0, False)
        self._reconcile(handoff, row, task, report)

    async def _cancel(self, client: Client, row: RemoteTask, report: BridgePass) -> None:
        """The handoff was cancelled or moved away in the ledger: stop the remote work."""
        try:
            await client.cancel_task(CancelTaskRequest(id=row.task_id))
        except (A2AClientError, InternalError):
            raise
        except A2AError:
            pass  # already terminal there, or gone: nothing left to stop
        self.tasks.update(row.handoff_id, closed=True)
        report.cancelled.append(row.handoff_id)

    async def _pass_replies(
        self, client: Client, handoff: Handoff, row: RemoteTask, report: BridgePass
    ) -> None:
        if handoff.last_reply_at is None:
            return
        for event in self.ledger.history(handoff.id):
            version = event.originator_version
            if not isinstance(event, Handoff.Replied) or version <= row.replied_through:
                continue
            request = SendMessageRequest(
                message=reply_message(event, row.task_id),
                configuration=SendMessageConfiguration(return_immediately=True),
            )
            try:
                async for _ in client.send_message(request):
                    pass
            except (A2AClientError, InternalError):
                raise
            except A2AError as refused:  # the remote task no longer takes messages
                report.errors.append((row.handoff_id, f"reply not taken: {refused}"))
            self.tasks.update(row.handoff_id, replied_through=version)
            report.replies.append((row.handoff_id, version))

    # ------------------------------------------------------------------ recording

    def _reconcile(self, handoff: Handoff, row: RemoteTask, task: Task, report: BridgePass) -> None:
        """Record the remote task's status as the agent's move, unless it already is."""
        status = task.status
        stamp = status.timestamp.ToJsonString() if status.HasField("timestamp") else ""
        seen = f"{TaskState.Name(status.state)}@{stamp}"
        if seen == row.seen:
            return
        state, agent = status.state, row.agent
        if handoff.is_open:
            if state == TaskState.TASK_STATE_SUBMITTED and handoff.state is State.REQUESTED:
                self._record(handoff, agent, "ack", report)
            elif state == TaskState.TASK_STATE_WORKING and handoff.state is not State.IN_PROGRESS:
                self._record(handoff, agent, Status.WORKING, report, message=_said(task))
            elif state in INTERRUPTED and handoff.state is not State.BLOCKED:
                self._record(handoff, agent, Status.NEED_HELP, report, message=status_text(task))
            elif state == TaskState.TASK_STATE_COMPLETED:
                result = result_of(list(task.artifacts))
                self._record(handoff, agent, "complete", report, result=result)
            elif state == TaskState.TASK_STATE_FAILED:
                result = result_of(list(task.artifacts))
                self._record(
                    handoff, agent, "fail", report, reason=status_text(task), result=result
                )
            elif state in (TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED):
                self._record(handoff, agent, "decline", report, reason=status_text(task))
        self.tasks.update(row.handoff_id, seen=seen, closed=state in TERMINAL)

    def _record(
        self, handoff: Handoff, agent: str, move: str, report: BridgePass, **fields: Any
    ) -> None:
        """One move of the remote agent in the ledger (a move the rules now refuse is
        logged: someone else decided the handoff first)."""
        ledger, hid = self.ledger, handoff.id
        try:
            if move == "ack":
                ledger.ack(hid, by=agent)
            elif move in (Status.WORKING, Status.NEED_HELP):
                ledger.report_status(hid, by=agent, status=Status(move), message=fields["message"])
            elif move == "complete":
                try:
                    ledger.complete(hid, by=agent, result=fields["result"])
                except InvalidInput as error:  # the result fails the kind's schema
                    reason = f"the remote's result was refused: {error.message}"
                    ledger.fail(hid, by=agent, reason=reason, result=fields["result"])
                    move = "fail"
            elif move == "fail":
                ledger.fail(hid, by=agent, reason=fields["reason"], result=fields.get("result"))
            else:
                ledger.decline(hid, by=agent, reason=fields["reason"])
        except Refused as refusal:
            report.errors.append((str(hid), f"{move} not recorded: {refusal.message}"))
            return
        report.recorded.append((str(hid), agent, str(move)))


def _said(task: Task) -> str | None:
    """The status message's text, if the remote sent one."""
    texts = [part.text for part in task.status.message.parts if part.text]
    return "\n".join(texts) if texts else None
