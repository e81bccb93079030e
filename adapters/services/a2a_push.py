"""A2A push notifications: per-task configs, delivered by the webhook machinery.

A client of the A2A face registers a config on a task (``CreateTaskPushNotificationConfig``
or a send's ``configuration.taskPushNotificationConfig``): a URL, an optional
``token`` (sent back as ``X-A2A-Notification-Token``) and optional ``authentication``
(sent as ``Authorization: <scheme> <credentials>``). Configs are rows of
``hl_a2a_push`` in the ledger's database, so they survive a restart.

Each reactor pass (:class:`.webhooks.Deliveries`) turns the task's updates since a
config's cursor into ``hl_deliveries`` rows (one per A2A ``StreamResponse``: a
``statusUpdate`` per event, an ``artifactUpdate`` before a result), with the cursor
moved in the same transaction; from there they go out as webhooks do: leased, POSTed
to the checked address (:mod:`.webhook_guard`: a private address is refused unless
the protocol allows private webhooks), retried with backoff. Each body is the same
on every attempt, with an ``Idempotency-Key`` of ``<task id>:<config id>:<n>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.views.store import ViewStore, rowcount
from handoff_ledger.projections.base import Column, us

if TYPE_CHECKING:
    from handoff_ledger.adapters.services.a2a_task_view import Update

# The A2A modules (a2a-sdk, protobuf) are imported where updates are built: the
# reactor's webhook pass imports this module on every pass, most ledgers have no
# push configs, and every CLI command would otherwise pay for loading the SDK.

__all__ = ["PUSH", "PushConfig", "PushConfigs", "delivery_agent", "numbered"]

PUSH = "hl_a2a_push"
_DDL_LOCK = 7_310_452_919


@dataclass(frozen=True)
class PushConfig:
    """One push-notification config of one task."""

    task_id: str
    config_id: str
    owner: str
    url: str
    token: str | None = None
    scheme: str | None = None
    credentials: str | None = None
    cursor: int = 0  # the task's version the updates were enqueued up to

    def document(self) -> dict[str, Any]:
        """The config as A2A's ``TaskPushNotificationConfig`` JSON (credentials left out)."""
        found: dict[str, Any] = {"id": self.config_id, "taskId": self.task_id, "url": self.url}
        if self.token:
            found["token"] = self.token
        if self.scheme:
            found["authentication"] = {"scheme": self.scheme}
        return found


def delivery_agent(config: PushConfig) -> str:
    """The ``agent`` column of the config's ``hl_deliveries`` rows."""
    return f"a2a-push:{config.task_id}:{config.config_id}"


class PushConfigs:
    """The configs' table: saved, read, deleted, and turned into deliveries."""

    def __init__(self, ledger: Ledger, store: ViewStore) -> None:
        self.ledger = ledger
        self.store = store
        self.dialect = store.dialect
        self._ready = False

    def _t(self) -> str:
        return self.dialect.table(PUSH)

    def ensure(self) -> None:
        """Create the table once (no DDL at all once it exists)."""
        if self._ready or PUSH in self.store.existing_tables():
            self._ready = True
            return
        integer = self.dialect.type_of(Column.INT)
        with self.store.transaction() as cursor:
            if self.dialect.backend == "postgresql":
                cursor.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self._t()} (task_id TEXT, config_id TEXT, "
                "owner TEXT, url TEXT, token TEXT, scheme TEXT, credentials TEXT, "
                f"cursor {integer}, created_us {integer}, PRIMARY KEY (task_id, config_id))"
            )
        self._ready = True

    def save(self, config: PushConfig) -> PushConfig:
        """Create or replace the config (same task and id: the newer wins, its cursor kept).

        A new config starts at the task's current version: it hears what happens next.
        """
        self.ensure()
        start = self.ledger.get(UUID(config.task_id)).version
        with self.store.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self._t()} (task_id, config_id, owner, url, token, scheme, "
                f"credentials, cursor, created_us) VALUES ({self.dialect.marks(9)}) "
                "ON CONFLICT (task_id, config_id) DO UPDATE SET owner = excluded.owner, "
                "url = excluded.url, token = excluded.token, scheme = excluded.scheme, "
                "credentials = excluded.credentials",
                (
                    config.task_id, config.config_id, config.owner, config.url, config.token,
                    config.scheme, config.credentials, start, us(self.ledger.clock.now()),
                ),
            )  # fmt: skip
        found = self.get(config.task_id, config.config_id)
        assert found is not None
        return found

    def get(self, task_id: str, config_id: str) -> PushConfig | None:
        """One config."""
        if not self._exists():
            return None
        rows = self.store.query(
            f"SELECT * FROM {self._t()} WHERE task_id = ? AND config_id = ?", [task_id, config_id]
        )
        return _config(rows[0]) if rows else None

    def of_task(self, task_id: str) -> list[PushConfig]:
        """The task's configs, oldest first."""
        if not self._exists():
            return []
        rows = self.store.query(
            f"SELECT * FROM {self._t()} WHERE task_id = ? ORDER BY created_us, config_id",
            [task_id],
        )
        return [_config(row) for row in rows]

    def delete(self, task_id: str, config_id: str) -> bool:
        """Remove the config (deliveries already queued still go out); True if it existed."""
        if not self._exists():
            return False
        m = self.dialect.mark
        with self.store.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self._t()} WHERE task_id = {m} AND config_id = {m}",
                (task_id, config_id),
            )
            return rowcount(cursor) == 1

    @property
    def ready(self) -> bool:
        """Whether the table was found (or made) by this object (no query)."""
        return self._ready

    def _exists(self) -> bool:
        """Whether the table exists yet (asked each reactor pass until it does).

        One index lookup of the catalogue, not a listing of every table through
        ``information_schema`` (most of an idle reactor pass on PostgreSQL).
        """
        if not self._ready:
            if self.dialect.backend == "postgresql":
                sql = "SELECT to_regclass(?) IS NOT NULL AS found"
                rows = self.store.query(sql, [self._t()])
                self._ready = bool(rows and rows[0]["found"])
            else:
                sql = "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?"
                self._ready = bool(self.store.query(sql, [PUSH]))
        return self._ready

    # ------------------------------------------------------------------ delivery

    def enqueue(self, deliveries_table: str) -> int:
        """Every config's new updates become pending deliveries; returns how many.

        The rows and the config's cursor move in one transaction (the cursor by
        compare-and-set), so two reactors, or a reactor killed half way, enqueue each
        update once.
        """
        if not self._exists():
            return 0
        rows = self.store.query(f"SELECT * FROM {self._t()} ORDER BY task_id, config_id")
        total = 0
        now_us = us(self.ledger.clock.now()) or 0
        m = self.dialect.mark
        for config in (_config(row) for row in rows):
            events = self.ledger.history(UUID(config.task_id))
            version = events[-1].originator_version
            if version <= config.cursor:
                continue
            from handoff_ledger.adapters.services.a2a_task_view import updates_of

            updates = numbered(updates_of(events, config.cursor))
            with self.store.transaction() as cursor:
                cursor.execute(
                    f"UPDATE {self._t()} SET cursor = {m} WHERE task_id = {m} AND "
                    f"config_id = {m} AND cursor = {m}",
                    (version, config.task_id, config.config_id, config.cursor),
                )
                if rowcount(cursor) != 1:
                    continue  # another reactor enqueued them
                for number, update in updates:
                    cursor.execute(
                        f"INSERT INTO {deliveries_table} (agent, position, url, body, "
                        f"attempts, next_at_us) VALUES ({self.dialect.marks(6)}) "
                        "ON CONFLICT (agent, position) DO NOTHING",
                        (
                            delivery_agent(config), number, config.url,
                            _body(config, number, update), 0, now_us,
                        ),
                    )  # fmt: skip
                    total += 1
        return total


def numbered(updates: list[Update]) -> list[tuple[int, Update]]:
    """Each update with its place among the task's: twice the handoff version of its
    event, one less for the artifact that comes just before a result's status."""
    from a2a.types.a2a_pb2 import TaskArtifactUpdateEvent
    from google.protobuf.json_format import MessageToDict

    from handoff_ledger.adapters.services.a2a_remote import EXTENSION_URI

    found: list[tuple[int, Update]] = []
    waiting: list[Update] = []
    for update in updates:
        if isinstance(update, TaskArtifactUpdateEvent):
            waiting.append(update)
            continue
        version = int(MessageToDict(update)["metadata"][EXTENSION_URI]["position"])
        found.extend((version * 2 - 1, artifact) for artifact in waiting)
        waiting = []
        found.append((version * 2, update))
    return found


def _body(config: PushConfig, number: int, update: Update) -> str:
    """The stored delivery: A2A's ``StreamResponse`` JSON and the headers A2A asks for."""
    from a2a.types.a2a_pb2 import TaskArtifactUpdateEvent
    from google.protobuf.json_format import MessageToDict

    key = "artifactUpdate" if isinstance(update, TaskArtifactUpdateEvent) else "statusUpdate"
    headers = {}
    if config.token:
        headers["X-A2A-Notification-Token"] = config.token
    if config.scheme and config.credentials:
        headers["Authorization"] = f"{config.scheme} {config.credentials}"
    return json.dumps(
        {
            "idempotency_key": f"{config.task_id}:{config.config_id}:{number}",
            "headers": headers,
            "payload": {key: MessageToDict(update)},
        },
        sort_keys=True,
    )


def _config(row: dict[str, Any]) -> PushConfig:
    return PushConfig(
        task_id=str(row["task_id"]),
        config_id=str(row["config_id"]),
        owner=str(row["owner"]),
        url=str(row["url"]),
        token=row["token"],
        scheme=row["scheme"],
        credentials=row["credentials"],
        cursor=int(row["cursor"] or 0),
    )
