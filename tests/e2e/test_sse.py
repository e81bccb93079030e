"""Live streams (server-sent events) against a real ``handoff serve``, with an SSE client.

A client reads some events, goes away while more handoff events are appended,
comes back with ``Last-Event-ID`` and must receive every event exactly once: the ids
and documents it collected, in order, are exactly those of ``GET /log`` (or of the
agent's ``GET /agents/{name}/notifications``).
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import CLI
from httpx_sse import ServerSentEvent, connect_sse
from test_http import AGENTS, start_server, stop

# Shorter than the stream's 15 s keep-alive: a stream that stops sending fails the
# test with a ReadTimeout instead of hanging it.
STREAM_TIMEOUT = httpx.Timeout(10.0)


@dataclass
class Live:
    url: str
    tokens: dict[str, str]
    cli: CLI
    process: subprocess.Popen[str]

    def client(self, agent: str | None, timeout: httpx.Timeout = STREAM_TIMEOUT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"} if agent else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def send(self, trigger: str) -> str:
        with self.client("inbox_monitor") as inbox:
            created = inbox.post("/handoffs", json={"to": "code_agent", "trigger": trigger})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def act(self, agent: str, path: str, body: dict[str, Any] | None = None) -> None:
        with self.client(agent) as client:
            done = client.post(path, json=body or {})
        assert done.status_code in (200, 201), done.text

    def pages(self, path: str, key: str) -> list[dict[str, Any]]:
        """Every entry of a paged read (``GET /log`` or a feed), following ``next``."""
        with self.client("human:me") as admin:
            entries: list[dict[str, Any]] = []
            cursor = 0
            while True:
                page = admin.get(path, params={"since": cursor, "limit": 1000}).json()
                if not page[key]:
                    return entries
                entries += page[key]
                cursor = page["next"]


@pytest.fixture
def live(cli: CLI) -> Iterator[Live]:
    tokens = cli.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(cli)
    try:
        yield Live(url=url, tokens=tokens, cli=cli, process=process)
    finally:
        if process.poll() is None:
            stop(process)


def events(stream: Iterator[ServerSentEvent]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The stream's events that carry an entry: (SSE id, the JSON document)."""
    for sse in stream:
        if sse.data:
            yield int(sse.id), json.loads(sse.data)


def take(stream: Iterator[tuple[int, dict[str, Any]]], count: int) -> list[tuple[int, Any]]:
    return [next(stream) for _ in range(count)]


def take_through(stream: Iterator[tuple[int, dict[str, Any]]], last: int) -> list[tuple[int, Any]]:
    """Events up to and including the one with id ``last``."""
    taken = []
    for event in stream:
        taken.append(event)
        if event[0] >= last:
            return taken
    raise AssertionError(f"the stream ended before id {last}: {[i for i, _ in taken]}")


def test_a_log_client_that_reconnects_gets_every_event_exactly_once(live: Live) -> None:
    first, second = live.send("Bug report detected"), live.send("Refund request")
    with (
        live.client("code_agent") as coder,
        connect_sse(coder, "GET", "/log/stream") as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        stream = events(source.iter_sse())
        seen = take(stream, 2)  # the backlog
        assert [doc["type"] for _, doc in seen] == ["Created", "Created"]
        live.act("code_agent", f"/handoffs/{first}/ack", {"eta": "2h"})
        seen += take(stream, 1)  # live, while connected
        assert seen[-1][1]["type"] == "Acked"
    # Away: more of the lifecycle, and events that are not handoff events (a token).
    live.act("code_agent", f"/handoffs/{first}/status", {"status": "progress", "message": "on it"})
    live.act("inbox_monitor", f"/handoffs/{first}/notes", {"message": "customer called"})
    live.cli.json("agents", "token", "create", "support_agent")
    live.act("code_agent", f"/handoffs/{first}/complete", {"result": {"fix": "PR #412"}})
    live.act("code_agent", f"/handoffs/{second}/decline", {"reason": "not mine"})
    log = live.pages("/log", "entries")
    with (
        live.client("code_agent") as coder,
        connect_sse(
            coder, "GET", "/log/stream", headers={"Last-Event-ID": str(seen[-1][0])}
        ) as source,
    ):
        stream = events(source.iter_sse())
        seen += take_through(stream, log[-1]["position"])
        assert [(i, doc) for i, doc in seen] == [(e["position"], e) for e in log]
        assert [doc["type"] for _, doc in seen] == [
            "Created", "Created", "Acked", "StatusReported", "NoteAdded", "Completed", "Acked",
            "Declined",
        ]  # fmt: skip
        # Still live after the catch-up, and nothing comes twice: the next event is the new one.
        live.act("support_agent", f"/handoffs/{first}/notes", {"message": "thanks"})
        [(position, note)] = take(stream, 1)
        assert (note["type"], note["by"]) == ("NoteAdded", "support_agent")
        assert position == live.pages("/log", "entries")[-1]["position"]


def test_since_resumes_like_last_event_id_and_the_header_wins(live: Live) -> None:
    ids = [live.send(f"handoff {n}") for n in range(3)]
    log = live.pages("/log", "entries")
    assert len(log) == len(ids)
    start = log[0]["position"]
    with live.client("code_agent") as coder:
        with connect_sse(coder, "GET", "/log/stream", params={"since": start}) as source:
            by_query = take(events(source.iter_sse()), 2)
        headers = {"Last-Event-ID": str(start)}
        with connect_sse(
            coder, "GET", "/log/stream", params={"since": 0}, headers=headers
        ) as source:
            by_header = take(events(source.iter_sse()), 2)
    assert [i for i, _ in by_query] == [i for i, _ in by_header] == [e["position"] for e in log[1:]]


def test_a_notification_client_that_reconnects_gets_every_entry_exactly_once(live: Live) -> None:
    first, second = live.send("Bug report detected"), live.send("Refund request")
    live.act("code_agent", f"/handoffs/{first}/ack", {"eta": "2h"})
    with (
        live.client("inbox_monitor") as inbox,
        connect_sse(inbox, "GET", "/agents/inbox_monitor/notifications/stream") as source,
    ):
        stream = events(source.iter_sse())
        seen = take(stream, 1)
        assert seen[0][1]["type"] == "Acked"
        live.act("code_agent", f"/handoffs/{first}/status", {"status": "stuck", "message": "?"})
        seen += take(stream, 1)
        assert seen[-1][1]["type"] == "StatusReported"
    # Away: the feed grows, and the log grows with events that are not in this feed.
    live.act("code_agent", f"/handoffs/{first}/complete", {"result": {"fix": "PR #412"}})
    live.send("Not yet looked at")
    live.act("code_agent", f"/handoffs/{second}/decline", {"reason": "not mine"})
    feed = live.pages("/agents/inbox_monitor/notifications", "notifications")
    assert len(feed) > len(seen)
    with (
        live.client("inbox_monitor") as inbox,
        connect_sse(
            inbox,
            "GET",
            "/agents/inbox_monitor/notifications/stream",
            headers={"Last-Event-ID": str(seen[-1][0])},
        ) as source,
    ):
        stream = events(source.iter_sse())
        seen += take_through(stream, feed[-1]["cursor"])
        assert seen == [(n["cursor"], n) for n in feed]
        assert [doc["type"] for _, doc in seen] == [
            "Acked", "StatusReported", "Completed", "Acked", "Declined",
        ]  # fmt: skip
        live.act("code_agent", f"/handoffs/{first}/notes", {"message": "follow-up sent"})
        [(cursor, note)] = take(stream, 1)
        assert (note["type"], note["by"]) == ("NoteAdded", "code_agent")
        latest = live.pages("/agents/inbox_monitor/notifications", "notifications")[-1]
        assert cursor == latest["cursor"]


def test_streams_need_a_token_and_feeds_are_their_owners(live: Live) -> None:
    live.send("Bug report detected")
    paths = ["/log/stream", "/agents/code_agent/notifications/stream"]
    with live.client(None) as anonymous:
        for path in paths:
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "unauthorized"
            assert refused.headers["www-authenticate"] == "Bearer"
            forged = anonymous.get(path, headers={"Authorization": "Bearer hl_not-a-token"})
            assert forged.status_code == 401, path
    with live.client("inbox_monitor") as inbox:
        other = inbox.get("/agents/code_agent/notifications/stream")
        assert other.status_code == 403
        assert other.json()["error"]["code"] == "not_permitted"
        bad = inbox.get("/log/stream", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 422
        assert "Last-Event-ID" in bad.json()["error"]["message"]
        negative = inbox.get("/log/stream", params={"since": -1})
        assert negative.status_code == 422
    with (
        live.client("human:me") as admin,
        connect_sse(admin, "GET", "/agents/code_agent/notifications/stream") as source,
    ):
        [(_, created)] = take(events(source.iter_sse()), 1)
        assert (created["type"], created["agent"]) == ("Created", "code_agent")


def test_open_streams_end_cleanly_when_the_server_stops(live: Live) -> None:
    live.send("Bug report detected")
    with (
        live.client("code_agent") as coder,
        connect_sse(coder, "GET", "/log/stream") as source,
    ):
        stream = events(source.iter_sse())
        assert take(stream, 1)[0][1]["type"] == "Created"
        # A second client that goes away first: its stream must not hold the server up.
        with connect_sse(coder, "GET", "/agents/code_agent/notifications/stream") as other:
            take(events(other.iter_sse()), 1)
        stop(live.process)  # SIGTERM; fails on a traceback or if it takes over 30 s
        # uvicorn re-raises the signal once its graceful shutdown is done.
        assert live.process.returncode in (0, -signal.SIGTERM)
        assert list(stream) == []  # the response was finished, not cut off
