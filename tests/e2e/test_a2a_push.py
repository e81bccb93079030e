"""A2A push notifications: a config made over A2A, delivered by the reactor to a real
local HTTP endpoint, refused for a private address unless the protocol allows it,
and kept across a restart of the server. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from a2a.types.a2a_pb2 import (
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskPushNotificationConfig,
)
from a2a.utils.errors import InvalidParamsError
from conftest import CLI
from test_a2a import BUG, PROTOCOL, Live, data, last, message, own_live, run, text
from test_http import start_server, stop

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.store.bootstrap import open_ledger


class Hook:
    """A webhook endpoint on 127.0.0.1 that keeps every POST (headers and JSON body)."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/a2a-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(cli: CLI, tmp_path: Path) -> Iterator[Live]:
    """A server of this test's own: it is restarted, and its protocol changed."""
    with own_live(cli, tmp_path) as running:
        yield running


@pytest.fixture
def hook() -> Iterator[Hook]:
    running = Hook()
    try:
        yield running
    finally:
        running.close()


def test_a_push_config_made_over_a2a_gets_the_task_updates(live: Live, hook: Hook) -> None:
    config = TaskPushNotificationConfig(
        url=hook.url, token="tok-1", authentication=AuthenticationInfo(scheme="Bearer",
                                                                      credentials="hook-secret"),
    )  # fmt: skip

    async def refused_then_made() -> tuple[str, TaskPushNotificationConfig]:
        async with live.client("inbox_monitor") as client:
            sent = SendMessageRequest(
                message=message(text("Bug report"), data(BUG)),
                configuration=SendMessageConfiguration(
                    return_immediately=True, task_push_notification_config=config
                ),
            )
            before = live.cli.stored()
            with pytest.raises(InvalidParamsError, match="loopback"):  # 127.0.0.1: refused
                await last(client.send_message(sent))
            assert live.cli.stored() == before  # nothing was written
            in_process(live, lambda ledger: ledger.apply_protocol(
                "allow_private_webhooks = true\n" + PROTOCOL, source="allowed.toml"))  # fmt: skip
            task = (await last(client.send_message(sent))).task
            made = await client.create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=task.id, id="second", url=hook.url)
            )
            return task.id, made

    task_id, made = run(refused_then_made())
    assert (made.id, made.task_id, made.url) == ("second", task_id, hook.url)

    # The server restarts: the configs were stored, not held in its memory.
    stop(live.process)
    live.process, live.url = start_server(live.cli)
    try:
        delivered(live, hook, task_id)
    finally:
        stop(live.process)


def in_process(live: Live, work: Any) -> Any:
    ledger = open_ledger(live.cli.url)
    try:
        return work(ledger)
    finally:
        ledger.close()


def delivered(live: Live, hook: Hook, task_id: str) -> None:

    async def listed() -> list[TaskPushNotificationConfig]:
        async with live.client("inbox_monitor") as client:
            found = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task_id)
            )
            one = await client.get_task_push_notification_config(
                GetTaskPushNotificationConfigRequest(task_id=task_id, id="second")
            )
            assert one.url == hook.url
            return list(found.configs)

    configs = run(listed())
    assert len(configs) == 2
    assert {c.token for c in configs} == {"tok-1", ""}
    assert all(not c.authentication.credentials for c in configs)  # never read back

    def work(ledger: Ledger) -> None:  # the receiver at work
        ledger.ack(UUID(task_id), by="code_agent")
        ledger.complete(UUID(task_id), by="code_agent", result={"fix": "css"})

    in_process(live, work)
    live.cli.json("reactor", "--once")
    first = [(h, b) for h, b in hook.received if h.get("X-A2A-Notification-Token") == "tok-1"]
    assert [h["Authorization"] for h, _ in first] == ["Bearer hook-secret"] * 3
    kinds = [next(iter(body)) for _, body in first]
    assert kinds == ["statusUpdate", "artifactUpdate", "statusUpdate"]
    states = [b["statusUpdate"]["status"]["state"] for _, b in first if "statusUpdate" in b]
    assert states == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert first[1][1]["artifactUpdate"]["artifact"]["parts"][0]["data"] == {"fix": "css"}
    assert {b[next(iter(b))]["taskId"] for _, b in first} == {task_id}
    assert len(hook.received) == 6  # the second config got the same three
    live.cli.json("reactor", "--once")
    assert len(hook.received) == 6  # each delivered once

    async def deleted() -> int:
        async with live.client("inbox_monitor") as client:
            await client.delete_task_push_notification_config(
                DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="second")
            )
            left = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task_id)
            )
            return len(left.configs)

    assert run(deleted()) == 1
