"""What every request of ``handoff serve`` shares, whichever face it arrives at.

One ``Ledger`` (and its views) per process, shared by the request threads.
Identity comes from the bearer token only: the acting agent is the token's agent,
never a field the caller fills in. In a loopback-only trial (``serve --trial``) the
caller names itself with ``X-Handoff-Agent`` instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from starlette.requests import Request

from handoff_ledger.adapters.faces.runtime.errors import Unauthorized
from handoff_ledger.adapters.faces.runtime.following import Following, WaitForFollower
from handoff_ledger.adapters.faces.runtime.token_cache import TokenCache
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller
from handoff_ledger.adapters.services.work import SaveWaker
from handoff_ledger.adapters.views import Views

__all__ = ["TRIAL_ENV", "TRIAL_HEADER", "Service"]

TRIAL_HEADER = "X-Handoff-Agent"

TRIAL_ENV = "HANDOFF_SERVE_TRIAL"
"""Set by ``serve --workers N --trial`` for the worker processes it starts."""


@dataclass
class Service:
    """What every request shares: the ledger, its views, and how callers are known.

    ``following`` says who keeps the views current in this process and how an
    ``ack`` waits for its queue position (:mod:`.following`); it is chosen once,
    where the process is assembled.
    """

    ledger: Ledger
    views: Views
    trial: bool = False
    following: Following = field(default_factory=WaitForFollower)

    def __post_init__(self) -> None:
        self._catch_up_lock = threading.Lock()
        self.queue_lock = threading.Lock()
        """Held by a request that catches the queues view up itself."""
        self.queue_view = Views(self.ledger, [self.views.projection("queues")])
        others = [p for p in self.views.projections if p.name != "queues"]
        self.followed = Views(self.ledger, others)
        self.work_lock = threading.Lock()
        """Held by a request that catches the work views up itself."""
        self.work_view = Views(
            self.ledger, [self.views.projection("queues"), self.views.projection("work")]
        )
        self.tokens = TokenCache(self.views.store)
        self.saves = SaveWaker(self.ledger)
        """Wakes a waiting ``next`` when this process saves an event."""

    def fresh_views(self) -> Views:
        """The views caught up to the log (one request thread at a time catches up)."""
        with self._catch_up_lock:
            self.views.catch_up()
        return self.views

    def work_views(self) -> Views:
        """The two views taking work reads (queues, work) once they hold the log's
        head: ``next`` need not wait for the other four. A follower process applies
        them where there is one (:meth:`.following.Following.work_at`)."""
        return self.following.work_at(self, self.ledger.head())

    def queues_at(self, position: int) -> Views:
        """The queues view once it has applied log ``position``: what ``ack`` answers from."""
        return self.following.queues_at(self, position)

    def follow(self, stop: threading.Event) -> threading.Thread:
        """Keep the views following the log until ``stop``; returns the thread to join."""
        return self.following.start(self, stop)

    def caller(self, request: Request) -> Caller:
        """The agent the request acts as, or a 401."""
        return self.caller_for(
            request.headers.get("authorization", ""), request.headers.get(TRIAL_HEADER, "")
        )

    def caller_for(self, authorization: str, trial_agent: str = "") -> Caller:
        """The agent named by these headers' values (``Authorization``, the trial
        header), or a 401."""
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            found = self.tokens.authenticate(secret.strip())
            if found is None:
                raise Unauthorized("token: unknown or revoked bearer token")
            return found
        if self.trial:
            agent = trial_agent.strip()
            if agent:
                return Caller(agent=agent, admin=False)
            raise Unauthorized(f"trial mode: name yourself with the {TRIAL_HEADER} header")
        raise Unauthorized("authorization: a bearer token is required (Authorization: Bearer …)")
