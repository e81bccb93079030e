"""Listing the tokens on a long log, without and with the tokens' index.

``list_tokens`` (``agents token list``, revoking an agent's tokens, ``trace``'s and
the digest's admins, ``serve``'s start-up) reads the events of one topic. A fresh
store gets three tokens, then ``--handoffs`` handoffs through varied lifecycles
(``common.fill``: about 3.4 events each), then two more tokens. Each round, in
turn: the index dropped (the store as code before it left it: the read scans the
log) and ``list_tokens`` timed; the index created again and ``list_tokens`` timed.
Medians of ``--rounds`` rounds and their ratio.

    .venv/bin/python bench/token_list.py [--stores sqlite,postgresql] [--handoffs 147000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from common import fill, scratch_store

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import issue_token, list_tokens
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.token_index import TOKEN_INDEX, TOKEN_TOPIC, sqlite_token_index


def set_index(ledger: Ledger, present: bool) -> None:
    """Drop the tokens' index, or create it as the store's opening does."""
    recorder: Any = ledger.recorder
    schema = getattr(recorder.datastore, "schema", None)
    with recorder.datastore.transaction(commit=True) as cursor:
        if not present:
            name = f'"{schema}"."{TOKEN_INDEX}"' if schema else f'"{TOKEN_INDEX}"'
            cursor.execute(f"DROP INDEX {name}")
        elif schema is None:
            cursor.execute(sqlite_token_index(recorder.events_table_name))
        else:
            cursor.execute(
                f'CREATE INDEX "{TOKEN_INDEX}" ON "{schema}"."{recorder.events_table_name}" '
                f"(notification_id) WHERE topic = '{TOKEN_TOPIC}'"
            )
            cursor.execute(f'ANALYZE "{schema}"."{recorder.events_table_name}"')


def timed_list(ledger: Ledger) -> float:
    began = time.perf_counter()
    found = list_tokens(ledger)
    seconds = time.perf_counter() - began
    assert len(found) == 5, found
    return seconds


def measure(backend: str, handoffs: int, rounds: int) -> None:
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        for agent in ("code_agent", "support_agent", "human:me"):
            issue_token(ledger, agent)
        events = fill(ledger, handoffs)
        for agent in ("inbox_monitor", "triage_agent"):
            issue_token(ledger, agent)
        without, with_index = [], []
        for _ in range(rounds):
            set_index(ledger, present=False)
            without.append(timed_list(ledger))
            set_index(ledger, present=True)
            with_index.append(timed_list(ledger))
        ledger.close()
    before, after = statistics.median(without), statistics.median(with_index)
    print(
        f"{backend}: {events + 5:,} events, list_tokens median of {rounds}: "
        f"no index {before * 1000:.1f} ms, index {after * 1000:.2f} ms, "
        f"{before / after:.0f}x faster  (load {os.getloadavg()[0]:.2f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--handoffs", type=int, default=147_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for backend in args.stores.split(","):
        measure(backend, args.handoffs, args.rounds)


if __name__ == "__main__":
    main()
