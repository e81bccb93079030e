"""The A2A request handler whose task store is the ledger (the SDK's ``RequestHandler``).

The SDK's default handler runs an ``AgentExecutor`` in-process; here the receiver is
another agent working through the ledger, so "executing" a task means recording a
handoff and reporting its state from the log. Every call acts as the caller the
route resolved (``context.state["caller"]``) on the agent of the URL (or the
request's ``tenant`` at the ledger's own ``/a2a`` endpoint).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any, cast
from uuid import UUID

from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers.request_handler import RequestHandler, validate_request_params
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
)
from a2a.utils.errors import (
    InvalidParamsError,
    TaskNotFoundError,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length
from anyio import to_thread

from handoff_ledger.adapters.faces.a2a.errors import a2a_error
from handoff_ledger.adapters.faces.a2a.listing import list_tasks
from handoff_ledger.adapters.faces.a2a.push import PushFace
from handoff_ledger.adapters.faces.a2a.recording import Recorder
from handoff_ledger.adapters.faces.a2a.watching import Wakeups
from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.a2a_states import INTERRUPTED, TERMINAL
from handoff_ledger.adapters.services.a2a_task_view import (
    state_of,
    task_document,
    task_of,
    updates_of,
)
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.rules import require_agent_name

__all__ = ["LedgerRequestHandler"]

Events = list[Handoff.Event]


class LedgerRequestHandler(RequestHandler):
    """A2A's operations over the ledger: a handoff is a task (docs/a2a.md)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.recorder = Recorder(service.ledger)
        self.wakeups = Wakeups(service.ledger)
        self.push = PushFace(service)

    # ------------------------------------------------------------ who, where, what

    @staticmethod
    def _caller(context: ServerCallContext) -> Caller:
        """Who calls (blocking: the token is checked against the store, so call it on a
        worker thread, with the call's other store work: one trip per request)."""
        caller = context.state["resolve_caller"]()
        assert isinstance(caller, Caller)
        return caller

    @staticmethod
    def _agent(tenant: str, context: ServerCallContext) -> str:
        agent = context.state.get("agent") or tenant
        if not agent:
            raise InvalidParamsError("tenant: name the agent (or use its URL, /a2a/{agent})")
        try:
            require_agent_name(agent, "agent")
        except Exception as error:  # noqa: BLE001 - the ledger's refusals, A2A's own, or a failure
            raise a2a_error(error) from None
        return str(agent)

    async def _events(self, task_id: str, agent: str, context: ServerCallContext) -> Events:
        """The task's history, if it is (or was) ``agent``'s; else TaskNotFound."""

        def read() -> Events:
            self._caller(context)
            return self._history(task_id, agent)

        try:
            return await to_thread.run_sync(read)
        except Exception as error:  # noqa: BLE001 - the ledger's refusals, A2A's own, or a failure
            raise a2a_error(error) from None

    def _history(self, task_id: str, agent: str) -> Events:
        try:
            handoff_id = UUID(task_id)
        except ValueError:
            raise TaskNotFoundError(f"id: {task_id[:60]!r} is not a task of this ledger") from None
        events = self.service.ledger.history(handoff_id)
        receivers = {events[0].receiver} if isinstance(events[0], Handoff.Created) else set()
        receivers.update(e.to_receiver for e in events if isinstance(e, Handoff.Reassigned))
        if agent not in receivers:
            raise TaskNotFoundError(f"id: task {task_id} was never {agent}'s")
        return events

    async def _task(self, events: Events, history: Any = None, *, queued: bool = True) -> Task:
        """The task of ``events`` (:meth:`task_now`), its queue read on a worker thread."""
        if queued and state_of(events) not in TERMINAL:
            return await to_thread.run_sync(lambda: self.task_now(events, history))
        return self.task_now(events, history, queued=False)

    def task_now(self, events: Events, history: Any = None, *, queued: bool = True) -> Task:
        """The task of ``events``; its queue position is read while it is open (unless
        not ``queued``: a task just sent, which the queues view has not seen yet).
        Blocking when ``queued``: call it on a worker thread."""
        task = task_of(events, queue_position=self._queue_position(events) if queued else None)
        return apply_history_length(task, history) if history is not None else task

    def task_document_now(self, events: Events, *, queued: bool = True) -> dict[str, Any]:
        """:meth:`task_now` as JSON, built without protobuf (the fast path's answer:
        the same document), every message in its history. Blocking when ``queued``."""
        position = self._queue_position(events) if queued else None
        return task_document(events, queue_position=position)

    def _queue_position(self, events: Events) -> int | None:
        """The open task's place in its receiver's queue (None once it is closed)."""
        if state_of(events) in TERMINAL:
            return None
        return self.service.views.read.queue_position(str(events[0].originator_id))

    async def _record(self, params: SendMessageRequest, context: ServerCallContext) -> Events:
        """Record the message (one trip to a worker thread); the handoff's history."""
        agent = self._agent(params.tenant, context)
        return await to_thread.run_sync(lambda: self.record_now(params, context, agent))

    def record_now(
        self, params: SendMessageRequest, context: ServerCallContext, agent: str | None = None
    ) -> Events:
        """Record the message as the caller (blocking: on a worker thread); the
        handoff's history. Refusals and failures are raised as A2A's errors."""
        message = params.message
        given = params.configuration.task_push_notification_config
        wants_push = params.configuration.HasField("task_push_notification_config")
        try:
            agent = agent or self._agent(params.tenant, context)
            caller = self._caller(context)
            if message.task_id:
                self._history(message.task_id, agent)  # it must be this agent's task
            config = self.push.checked(given, "", caller) if wants_push else None  # before
            events = self.recorder.record(caller, agent, message)
            if config is not None:
                task_id = str(events[0].originator_id)
                self.push.save(replace(config, task_id=task_id))
            return events
        except Exception as error:  # noqa: BLE001 - the ledger's refusals, A2A's own, or a failure
            raise a2a_error(error) from None

    # ------------------------------------------------------------ messages

    async def on_message_send(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> Task | Message:
        """Record the message; unless ``returnImmediately``, wait until the task is
        terminal or interrupted (input-required) or the client leaves."""
        validate_history_length(params.configuration)
        events = await self._record(params, context)
        events = await self.answered(params, events, context)
        return await self._task(events, params.configuration, queued=len(events) > 1)

    @staticmethod
    def answers_now(params: SendMessageRequest, events: Events) -> bool:
        """Whether a send is answered at once: ``returnImmediately``, or the task is
        terminal or interrupted already."""
        state = state_of(events)
        return params.configuration.return_immediately or state in TERMINAL | INTERRUPTED

    async def answered(
        self, params: SendMessageRequest, events: Events, context: ServerCallContext
    ) -> Events:
        """The history to answer a send with: unless :meth:`answers_now`, once the task
        is terminal or interrupted, or the client left (woken by this process's saves)."""
        if self.answers_now(params, events):
            return events
        handoff_id, seen = events[0].originator_id, events[-1].originator_version
        gone = context.state.get("gone")
        async for changed in self.wakeups.changes(handoff_id, seen, known=events, gone=gone):
            events = changed
            if state_of(events) in TERMINAL | INTERRUPTED:
                break
        return events

    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """The task once recorded, then every update, closing at a terminal state."""
        events = await self._record(params, context)
        async for event in self._follow(events, events[-1].originator_version, context):
            yield event

    @validate_request_params
    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        """The task now, then the updates after the client's last position (the
        extension's ``position``, sent back as ``Last-Event-ID``), then every new one."""
        events = await self._events(params.id, self._agent(params.tenant, context), context)
        if state_of(events) in TERMINAL:
            raise UnsupportedOperationError(
                f"task {params.id} is closed: GetTask with history has every update"
            )
        seen = events[-1].originator_version
        resume = _resume_point(context)
        async for event in self._follow(events, min(seen, resume) if resume else seen, context):
            yield event

    async def _follow(
        self, events: Events, after: int, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        try:
            async for event in self._updates(events, after, context):
                yield event
        except Exception as error:  # noqa: BLE001 - a stream ends with A2A's error, no details
            raise a2a_error(error) from None

    async def _updates(
        self, events: Events, after: int, context: ServerCallContext
    ) -> AsyncGenerator[Event]:
        yield await self._task(events)
        for update in updates_of(events, after):
            yield update
        if state_of(events) in TERMINAL:
            return
        handoff_id, seen = events[0].originator_id, events[-1].originator_version
        gone = context.state.get("gone")
        async for changed in self.wakeups.changes(handoff_id, seen, known=events, gone=gone):
            for update in updates_of(changed, seen):
                yield update
            seen = changed[-1].originator_version
            if state_of(changed) in TERMINAL:
                return

    # ------------------------------------------------------------ tasks

    @validate_request_params
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        """The task with its history (the newest ``historyLength`` messages if given)."""
        validate_history_length(params)
        events = await self._events(params.id, self._agent(params.tenant, context), context)
        return await self._task(events, params)

    @validate_request_params
    async def on_list_tasks(
        self, params: ListTasksRequest, context: ServerCallContext
    ) -> ListTasksResponse:
        """Every task of the agent the caller may see, newest change first, in pages."""
        agent = self._agent(params.tenant, context)

        def listed() -> ListTasksResponse:
            return list_tasks(self.service, agent, self._caller(context), params)

        try:
            return await to_thread.run_sync(listed)
        except Exception as error:  # noqa: BLE001 - the ledger's refusals, A2A's own, or a failure
            raise a2a_error(error) from None

    @validate_request_params
    async def on_cancel_task(
        self, params: CancelTaskRequest, context: ServerCallContext
    ) -> Task | None:
        """The sender (or an admin) cancels; anyone else gets TaskNotCancelable."""
        agent = self._agent(params.tenant, context)
        reason = str(dict(params.metadata).get("reason") or "cancelled through A2A")

        def cancel() -> Events:
            caller = self._caller(context)
            events = self._history(params.id, agent)
            self.service.ledger.cancel(
                events[0].originator_id, by=caller.agent, reason=reason, admin=caller.admin
            )
            return self.service.ledger.history(events[0].originator_id)

        try:
            return await self._task(await to_thread.run_sync(cancel))
        except Exception as error:  # noqa: BLE001 - as above
            raise a2a_error(error, cancelling=True) from None

    # ------------------------------------------------------------ push notifications

    async def _push(self, context: ServerCallContext, task_id: str, tenant: str, work: Any) -> Any:
        """``work(caller)`` for a task the caller may read, on one worker-thread trip."""
        agent = self._agent(tenant, context)

        def run() -> Any:
            caller = self._caller(context)
            self._history(task_id, agent)
            return work(caller)

        try:
            return await to_thread.run_sync(run)
        except Exception as error:  # noqa: BLE001 - the ledger's refusals, A2A's own, or a failure
            raise a2a_error(error) from None

    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        """Register a config on the task (its URL checked like a webhook's)."""
        push = self.push
        return cast(
            TaskPushNotificationConfig,
            await self._push(
                context,
                params.task_id,
                params.tenant,
                lambda caller: push.save(push.checked(params, params.task_id, caller)),
            ),
        )

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        """One of the caller's configs."""
        return cast(
            TaskPushNotificationConfig,
            await self._push(
                context,
                params.task_id,
                params.tenant,
                lambda caller: self.push.get(params.task_id, params.id, caller),
            ),
        )

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        """The caller's configs of the task (one page: a task has few)."""
        configs = await self._push(
            context,
            params.task_id,
            params.tenant,
            lambda caller: self.push.list(params.task_id, caller),
        )
        return ListTaskPushNotificationConfigsResponse(configs=configs)

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        """Remove one of the caller's configs (updates already queued still go out)."""
        await self._push(
            context,
            params.task_id,
            params.tenant,
            lambda caller: self.push.delete(params.task_id, params.id, caller),
        )

    # ------------------------------------------------------------ not offered

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        """The public card says everything: there is no extended card."""
        raise UnsupportedOperationError("there is no extended agent card")


def _resume_point(context: ServerCallContext) -> int:
    """The last position the client saw (``Last-Event-ID``), 0 if it sent none."""
    headers = context.state.get("headers") or {}
    text = str(headers.get("last-event-id", "")).strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise InvalidParamsError(f"Last-Event-ID: {text[:40]!r} is not a position")
    return int(text)
