"""Bearer tokens checked without loading the token's aggregate on every request.

``authenticate`` rebuilds a token's aggregate from its events: a query and a fold
per request, the largest share of a request's database work in ``handoff serve``.
``TokenCache`` remembers the caller of each valid token instead, and before every
answer asks the store one cheap question in one snapshot: "what is the log's head,
and has any token event been recorded since the head I saw last?" If one has, every
remembered token is forgotten (tokens are issued and revoked rarely), so a
revocation recorded by any process, before a request is checked, refuses that
request: revoked tokens get 401 at once, on every host. Requests that arrive while
a look is under way share the next one (:class:`FreshRounds`).

Only valid tokens are remembered (never unknown ones, which anyone can make up),
at most ``MAX_TOKENS`` of them.
"""

from __future__ import annotations

import threading

from eventsourcing.utils import get_topic

from handoff_ledger.adapters.faces.runtime.fresh_rounds import FreshRounds
from handoff_ledger.adapters.ledger.tokens import PREFIX, Caller, authenticate
from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.domain.tokens import AgentToken, token_hash

__all__ = ["MAX_TOKENS", "TOKEN_TOPICS", "TokenCache"]

TOKEN_TOPICS = (get_topic(AgentToken.Issued), get_topic(AgentToken.Revoked))
"""Every event that changes what a token may do."""

MAX_TOKENS = 10_000
"""Valid tokens remembered at most; past that, tokens are checked as without a cache."""


class TokenCache:
    """The caller of each valid token, kept until a token event is recorded."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._known: dict[str, Caller] = {}
        self._position = 0
        self._forgotten = 0
        """How often everything was forgotten: a token loaded before a forgetting
        that happened while it was being loaded is not remembered (it may be stale)."""
        self._looks = FreshRounds(self._look)

    def authenticate(self, secret: str) -> Caller | None:
        """The caller a token speaks for, or ``None`` if it is unknown or revoked."""
        if not secret.startswith(PREFIX):
            return None
        hashed = token_hash(secret)
        self._looks.wait()  # a look at the store begun after this request came
        forgotten = self._forgotten
        known = self._known.get(hashed)
        if known is not None:
            return known
        caller = authenticate(self.store.ledger, secret)
        if caller is not None:
            with self._lock:
                if self._forgotten == forgotten and len(self._known) < MAX_TOKENS:
                    self._known[hashed] = caller
        return caller

    def _look(self) -> None:
        """Forget every token if a token event was recorded since the last look."""
        head, news = self.store.head_and_news(self._position, TOKEN_TOPICS)
        with self._lock:
            if news:
                self._known.clear()
                self._forgotten += 1
            self._position = max(self._position, head)
