"""The one mapping of a handoff's state to an A2A task state (docs/a2a.md).

A reassigned handoff is ``requested`` again, so its task is ``submitted`` again,
under the same id.
"""

from __future__ import annotations

from a2a.types.a2a_pb2 import TaskState

from handoff_ledger.domain.states import State

__all__ = ["INTERRUPTED", "TERMINAL", "ledger_states", "task_state"]

_TASK_STATES: dict[State, TaskState] = {
    State.REQUESTED: TaskState.TASK_STATE_SUBMITTED,
    State.ACKED: TaskState.TASK_STATE_WORKING,
    State.IN_PROGRESS: TaskState.TASK_STATE_WORKING,
    State.BLOCKED: TaskState.TASK_STATE_INPUT_REQUIRED,  # need_help or stuck
    State.COMPLETED: TaskState.TASK_STATE_COMPLETED,
    State.FAILED: TaskState.TASK_STATE_FAILED,
    State.DECLINED: TaskState.TASK_STATE_REJECTED,
    State.CANCELLED: TaskState.TASK_STATE_CANCELED,
}

TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_REJECTED,
        TaskState.TASK_STATE_CANCELED,
    }
)
"""The states after which nothing changes a task."""

INTERRUPTED = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})
"""The states in which the task waits for its client (a blocking send returns)."""


def task_state(state: State) -> TaskState:
    """The A2A task state of a handoff in ``state``."""
    return _TASK_STATES[state]


def ledger_states(state: TaskState) -> list[str]:
    """The ledger states shown as the A2A ``state`` (ListTasks' status filter)."""
    return [ledger.value for ledger, mapped in _TASK_STATES.items() if mapped == state]
