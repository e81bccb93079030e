"""Every operation of the HTTP API, written once for both clients.

``Operations[R]`` turns each method call into a :class:`Call` and hands it to
``_call``, which the sync client answers with a document and the async client with
an awaitable of one. Method names follow the CLI; arguments follow the HTTP bodies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any, Generic, TypeVar

from handoff_ledger.client._calls import (
    Call,
    Document,
    Duration,
    HandoffId,
    Moment,
    compact,
    duration,
    moment,
    path,
    query,
)

__all__ = ["Operations"]

R = TypeVar("R")


class Operations(ABC, Generic[R]):
    """The resources of ``handoff serve``; the acting agent is the client's token's."""

    @abstractmethod
    def _call(self, call: Call) -> R:
        """Send ``call``; answer its document (or raise its error)."""

    # -------------------------------------------------------------- commands

    def send(
        self,
        *,
        to: str | None = None,
        kind: str | None = None,
        trigger: str | None = None,
        priority: str | None = None,
        payload: dict[str, Any] | None = None,
        ack_within: Duration | None = None,
        deadline: Moment | timedelta | None = None,
        escalate_to: list[str] | None = None,
        key: str | None = None,
        parent_id: HandoffId | None = None,
    ) -> R:
        """Create a handoff from this agent (``POST /handoffs``).

        ``key`` is the idempotency key, sent as the ``Idempotency-Key`` header: a
        repeat returns the first handoff with ``"duplicate": true`` and creates
        nothing. ``deadline`` is a duration from now or a time.
        """
        body = compact(
            to=to,
            kind=kind,
            trigger=trigger,
            priority=priority,
            payload=payload,
            ack_within=duration(ack_within),
            deadline=moment(deadline),
            escalate_to=escalate_to,
            parent_id=str(parent_id) if parent_id is not None else None,
        )
        headers: dict[str, str] = {}
        if key is not None and key.isascii() and key.isprintable() and key == key.strip():
            headers["Idempotency-Key"] = key
        elif key is not None:  # not a valid header value: the body's field says the same
            body["key"] = key
        return self._call(Call("POST", "/handoffs", body, headers=headers))

    def ack(
        self, id: HandoffId, *, eta: Duration | None = None, next_update: Duration | None = None
    ) -> R:
        """Acknowledge (the receiver): the answer has ``queue_position``, ``eta``,
        ``next_update_due``. A second ack returns the first one's answer."""
        body = compact(eta=duration(eta), next_update=duration(next_update))
        return self._call(Call("POST", path("handoffs", id, "ack"), body))

    def status(
        self,
        id: HandoffId,
        status: str,
        *,
        message: str | None = None,
        eta: Duration | None = None,
        next_update: Duration | None = None,
    ) -> R:
        """Report status (the receiver): ``working``, ``progress``, ``stuck``, ``need_help``."""
        body = compact(
            status=status, message=message, eta=duration(eta), next_update=duration(next_update)
        )
        return self._call(Call("POST", path("handoffs", id, "status"), body))

    def complete(self, id: HandoffId, *, result: dict[str, Any] | None = None) -> R:
        """Complete (the receiver) with an optional JSON ``result``; follow-ups fire."""
        return self._call(Call("POST", path("handoffs", id, "complete"), compact(result=result)))

    def fail(self, id: HandoffId, reason: str, *, result: dict[str, Any] | None = None) -> R:
        """Fail (the receiver): tried and could not finish, saying why; ``result`` is what
        the attempt left. Terminal; ``decline`` is for work not taken on."""
        body = compact(reason=reason, result=result)
        return self._call(Call("POST", path("handoffs", id, "fail"), body))

    def decline(self, id: HandoffId, reason: str) -> R:
        """Decline (the receiver), saying why."""
        return self._call(Call("POST", path("handoffs", id, "decline"), {"reason": reason}))

    def cancel(self, id: HandoffId, reason: str) -> R:
        """Cancel (the sender, or an admin), saying why."""
        return self._call(Call("POST", path("handoffs", id, "cancel"), {"reason": reason}))

    def reassign(self, id: HandoffId, to: str, reason: str) -> R:
        """Move the work to receiver ``to`` (the sender, or an admin), with fresh timers."""
        body = {"to": to, "reason": reason}
        return self._call(Call("POST", path("handoffs", id, "reassign"), body))

    def reply(self, id: HandoffId, message: str, *, data: dict[str, Any] | None = None) -> R:
        """Answer the receiver of an open handoff (the sender, an escalation target or an
        admin): a blocked handoff goes back to ``in_progress``."""
        body = compact(message=message, data=data)
        return self._call(Call("POST", path("handoffs", id, "reply"), body))

    def note(self, id: HandoffId, message: str) -> R:
        """Add a note (anyone, any time, even on a closed handoff)."""
        return self._call(Call("POST", path("handoffs", id, "notes"), {"message": message}))

    # -------------------------------------------------------------- reads

    def get(self, id: HandoffId, *, as_of: Moment | None = None) -> R:
        """One handoff: state, timers, ``overdue``, full ``history`` (as it stood at ``as_of``)."""
        params = query(as_of=moment(as_of))
        return self._call(Call("GET", path("handoffs", id), params=params))

    def inbox(self, agent: str, *, limit: int | None = None, as_of: Moment | None = None) -> R:
        """An agent's queue, head first, with ``queue_position``s (``limit=0``: all of it)."""
        params = query(limit=limit, as_of=moment(as_of))
        return self._call(Call("GET", path("agents", agent, "inbox"), params=params))

    def overdue(self, *, as_of: Moment | None = None) -> R:
        """Every handoff whose ack, update or deadline has passed."""
        return self._call(Call("GET", "/overdue", params=query(as_of=moment(as_of))))

    def chain(self, id: HandoffId, *, as_of: Moment | None = None) -> R:
        """The whole chain of a handoff, oldest first."""
        params = query(as_of=moment(as_of))
        return self._call(Call("GET", path("chains", id), params=params))

    def log(
        self,
        *,
        since: int | Moment | None = None,
        until: Moment | None = None,
        limit: int | None = None,
    ) -> R:
        """One page of the handoff log: ``{"entries": [...], "next": CURSOR}``.

        ``since`` is a log position (entries after it) or a time; pass the answer's
        ``next`` as ``since`` for the following page (or use ``iter_log``).
        """
        since_text = since if isinstance(since, int) else moment(since)
        params = query(since=since_text, until=moment(until), limit=limit)
        return self._call(Call("GET", "/log", params=params))

    def notifications(self, agent: str, *, since: int | None = None, limit: int | None = None) -> R:
        """An agent's feed after cursor ``since`` (its own; an admin may read any)."""
        params = query(since=since, limit=limit)
        return self._call(Call("GET", path("agents", agent, "notifications"), params=params))

    def projections(self) -> R:
        """Each view's position, the log's head, lag and version."""
        return self._call(Call("GET", "/projections"))

    def healthz(self) -> R:
        """Liveness and the store's head position (needs no token)."""
        return self._call(Call("GET", "/healthz"))


def next_page(page: Document, limit: int) -> int | None:
    """The cursor to read on from, or None when ``page`` was the last one."""
    entries = page.get("entries") or []
    if len(entries) < limit:
        return None
    cursor = page.get("next")
    return cursor if isinstance(cursor, int) else None
