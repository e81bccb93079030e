"""A2A's ListTasks from the chains view: the agent's tasks, newest change first.

The caller sees the tasks it sent to the agent; the agent itself and admins see
all of the agent's tasks. Filters: ``contextId`` (the chain), ``status`` (the A2A
state, i.e. the ledger states shown as it), ``statusTimestampAfter`` (last change).
Pages are keyset pages: the token is the last task's (change time, id), so a page
stays valid while tasks change.
"""

from __future__ import annotations

import base64
import json
from uuid import UUID

from a2a.types.a2a_pb2 import ListTasksRequest, ListTasksResponse, Task
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from a2a.utils.task import apply_history_length, validate_history_length, validate_page_size

from handoff_ledger.adapters.faces.runtime.service import Service
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.a2a_states import ledger_states
from handoff_ledger.adapters.services.a2a_task_view import task_of

__all__ = ["list_tasks"]


def list_tasks(
    service: Service, agent: str, caller: Caller, params: ListTasksRequest
) -> ListTasksResponse:
    """One page of ``agent``'s tasks as ``caller`` may see them (blocking)."""
    validate_history_length(params)
    size = DEFAULT_LIST_TASKS_PAGE_SIZE
    if params.HasField("page_size"):
        validate_page_size(params.page_size)
        size = params.page_size
    sees_all = caller.agent == agent or caller.admin or service.ledger.is_admin(caller.agent)
    after_us = None
    if params.HasField("status_timestamp_after"):
        after_us = params.status_timestamp_after.ToMicroseconds()
    views = service.fresh_views()
    rows, total = views.read.handed_to(
        agent,
        sender=None if sees_all else caller.agent,
        chain_id=params.context_id or None,
        states=ledger_states(params.status) if params.status else None,
        changed_after_us=after_us,
        before=_decode(params.page_token) if params.page_token else None,
        limit=size,
    )
    response = ListTasksResponse(page_size=size, total_size=total)
    for row in rows:
        events = service.ledger.history(UUID(row["handoff_id"]))
        task = task_of(events)
        response.tasks.append(
            apply_history_length(task, params)
            if params.HasField("history_length")
            else _no_history(task)
        )
    if len(rows) == size:
        response.next_page_token = _encode(rows[-1]["last_event_us"], rows[-1]["handoff_id"])
    return response


def _no_history(task: Task) -> Task:
    del task.history[:]
    return task


def _encode(changed_us: int, handoff_id: str) -> str:
    text = json.dumps([changed_us, handoff_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str) -> tuple[int, str]:
    try:
        changed_us, handoff_id = json.loads(
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        )
        UUID(handoff_id)
        return int(changed_us), str(handoff_id)
    except (ValueError, TypeError):
        raise InvalidParamsError("pageToken: not a token this server gave") from None
