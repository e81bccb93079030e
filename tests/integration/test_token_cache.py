"""The server's token cache against a real store: a revocation by anyone counts at once."""

from __future__ import annotations

from handoff_ledger.adapters.faces.runtime.token_cache import TokenCache
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller, issue_token, revoke_tokens
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views.store import ViewStore
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.projections.registry import all_projections


def cache_for(ledger: Ledger) -> TokenCache:
    return TokenCache(ViewStore(ledger, all_projections()))


def test_a_remembered_token_revoked_by_another_process_is_refused_on_the_next_check(
    ledger: Ledger, store_url: str
) -> None:
    secret = issue_token(ledger, "code_agent")
    cache = cache_for(ledger)
    assert cache.authenticate(secret) == Caller(agent="code_agent", admin=False)
    assert cache.authenticate(secret) == Caller(agent="code_agent", admin=False)  # remembered
    other = open_ledger(store_url)  # another process's ledger: its own connections
    try:
        revoke_tokens(other, agent="code_agent")
    finally:
        other.close()
    assert cache.authenticate(secret) is None


def test_other_writes_keep_remembered_tokens_and_new_tokens_work_at_once(ledger: Ledger) -> None:
    admin = issue_token(ledger, "human:me", admin=True)
    cache = cache_for(ledger)
    assert cache.authenticate(admin) == Caller(agent="human:me", admin=True)
    for n in range(3):
        ledger.send(sender="inbox_monitor", to="code_agent", payload={"n": n})
    fresh = issue_token(ledger, "support_agent")
    assert cache.authenticate(fresh) == Caller(agent="support_agent", admin=False)
    assert cache.authenticate(admin) == Caller(agent="human:me", admin=True)


def test_unknown_and_malformed_tokens_are_refused_and_not_remembered(ledger: Ledger) -> None:
    cache = cache_for(ledger)
    assert cache.authenticate("hl_made-up") is None
    assert cache.authenticate("not-even-ours") is None
    assert cache._known == {}


def test_a_long_silence_full_of_other_events_forgets_every_token(ledger: Ledger) -> None:
    """Past the window the store is not searched event by event: the cache starts over."""
    secret = issue_token(ledger, "code_agent")
    cache = cache_for(ledger)
    assert cache.authenticate(secret) is not None
    now = ledger.clock.now()
    ledger.save(*(Handoff.request(now=now, sender="a", receiver="b") for _ in range(1001)))
    store = cache.store
    head, news = store.head_and_news(cache._position, ("no such topic",))
    assert news
    assert head > cache._position
    assert cache.authenticate(secret) is not None


def test_a_few_writes_in_separate_transactions_keep_every_token(ledger: Ledger) -> None:
    """The window counts events, not positions: on PostgreSQL positions jump by 2**16
    from one transaction to the next, and counting them forgot every token on every
    request that followed any write."""
    secret = issue_token(ledger, "code_agent")
    cache = cache_for(ledger)
    assert cache.authenticate(secret) is not None  # its first look saw the token issued
    forgotten = cache._forgotten
    for n in range(3):
        ledger.send(sender="inbox_monitor", to="code_agent", payload={"n": n})
        assert cache.authenticate(secret) is not None
    head, news = cache.store.head_and_news(cache._position, ("no such topic",))
    assert (head, news) == (cache._position, False)
    assert cache._forgotten == forgotten
    assert len(cache._known) == 1
