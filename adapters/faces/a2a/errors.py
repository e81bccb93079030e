"""The ledger's refusals as A2A's own errors (each binding gives them its own code).

Unknown handoff → TaskNotFound; bad input → InvalidParams with the field named in
``data``; a cancel the rules refuse (not the sender, already closed) →
TaskNotCancelable; a message to a closed task, or any other refusal →
UnsupportedOperation (what the SDK's own handler answers for a terminal task).
Anything else (a store that went away) is logged and answered as A2A's
InternalError, without its details.
"""

from __future__ import annotations

import logging

from a2a.utils.errors import (
    A2AError,
    InternalError,
    InvalidParamsError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnsupportedOperationError,
)

from handoff_ledger.adapters.faces.runtime.errors import named_error
from handoff_ledger.domain.errors import HandoffError, InvalidInput, UnknownHandoff

__all__ = ["a2a_error"]

log = logging.getLogger(__name__)


def a2a_error(error: BaseException, *, cancelling: bool = False) -> A2AError:
    """The A2A error that answers ``error``."""
    if isinstance(error, A2AError):
        return error
    if isinstance(error, UnknownHandoff):
        return TaskNotFoundError(error.message)
    if isinstance(error, InvalidInput):
        document = named_error(error)["error"]
        data = {"code": document["code"]}
        if "field" in document:
            data["field"] = document["field"]
        return InvalidParamsError(error.message, data=data)
    if isinstance(error, HandoffError):
        data = {"code": error.code}
        if cancelling:
            return TaskNotCancelableError(error.message, data=data)
        return UnsupportedOperationError(error.message, data=data)
    log.error("a2a: unexpected failure", exc_info=error)
    return InternalError("internal error (see the server log)")
