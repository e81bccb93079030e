"""The tokens' index: every token issued, found without reading the whole log.

Listing the tokens (``agents token list``, revoking an agent's tokens, the admins
named by ``trace`` and the digest, ``serve``'s start-up check) reads the events of
one topic, ``AgentToken.Issued``. With no index on topic that read scanned the whole
events table: 0.5 s at 100,000 events, 5 to 17 s at 4,000,000. This partial index holds
the positions of those events only, so the read costs what the tokens cost, however
long the log, and an append of any other event pays only the test of its topic.

Only a statement that names that topic as a literal can use it: SQLite never matches
a bound parameter to an index's WHERE clause, nor does PostgreSQL in a generic plan.
So both recorders write a read of one topic with the topic in the statement
(:func:`topic_literal`); a read of several topics (the views') is unchanged.

The index is created with the tables: on a new store, and on a store written
before it when it is first opened (PostgreSQL: by any command, under the setup lock,
since ``bootstrap._ready`` looks for it; SQLite: when opened for writing, a file
opened read-only is read as it is). Building it reads the table once.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from handoff_ledger.domain.tokens import AgentToken

__all__ = ["TOKEN_INDEX", "TOKEN_TOPIC", "sqlite_token_index", "topic_literal"]

TOKEN_TOPIC = get_topic(AgentToken.Issued)
TOKEN_INDEX = "hl_token_issues"


def topic_literal(topic: str) -> str:
    """``topic`` as an SQL string literal (topics are the code's class paths)."""
    return "'" + topic.replace("'", "''") + "'"


def sqlite_token_index(table: str) -> str:
    """The index on SQLite (keyed by topic: its rows then follow in rowid order).
    PostgreSQL's (keyed by position) is ``ManyWritersRecorder``'s, composed by psycopg."""
    return (
        f'CREATE INDEX IF NOT EXISTS "{TOKEN_INDEX}" ON "{table}" (topic) '
        f"WHERE topic = {topic_literal(TOKEN_TOPIC)}"
    )
