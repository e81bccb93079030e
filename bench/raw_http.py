"""A lean HTTP/1.1 load generator for bench/http_lifecycle.py: asyncio, raw keep-alive.

Why: the system under test is the server. httpx costs about 1 ms of CPU per request
in the client, and eight httpx threads share one GIL, so on a 2-core machine that
also runs the server and PostgreSQL the old load generator took CPU from the thing
it measured and added its own GIL waits to every latency. This client is plain
HTTP/1.1 over loopback: one asyncio event loop in its own process, each simulated
agent with its own keep-alive connections and its own bearer token, requests
written as bytes and answers read by ``Content-Length`` (or chunked), bodies
parsed as JSON only where the lifecycle needs a value from them (the new id).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

__all__ = ["COMMANDS", "Connection", "Latencies", "drive_lifecycles"]


class HTTPStatusError(Exception):
    """An answer other than the one the lifecycle expects."""


class Connection:
    """One keep-alive HTTP/1.1 connection that speaks for one agent (one token)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.port = port
        self.head = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connect (asyncio sets TCP_NODELAY on TCP streams)."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """POST ``body`` as JSON; the status code and the raw answer body."""
        assert self.reader is not None
        assert self.writer is not None
        data = json.dumps(body).encode()
        self.writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
            + b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
        )  # fmt: skip
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            return status, await self._chunks()
        return status, await self.reader.readexactly(length or 0)

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


COMMANDS = ("send", "ack", "status", "complete")

Latencies = dict[str, list[float]]
"""Milliseconds per request, by command."""


async def _timed(
    sink: Latencies, connection: Connection, path: str, body: dict[str, Any], expect: int
) -> bytes:
    began = time.perf_counter()
    status, answer = await connection.post(path, body)
    sink[path.rsplit("/", 1)[-1] if path != "/handoffs" else "send"].append(
        (time.perf_counter() - began) * 1000
    )
    if status != expect:
        raise HTTPStatusError(f"POST {path}: {status} {answer[:300]!r}")
    return answer


async def _client(
    host: str,
    port: int,
    sender_token: str,
    worker_token: str,
    me: str,
    stop: float,
    pace: float | None,
    latencies: Latencies,
    offset: float = 0.0,
) -> int:
    """One agent's lifecycles: send (as the sender), ack, status, complete (as ``me``)."""
    sender = Connection(host, port, sender_token)
    worker = Connection(host, port, worker_token)
    await sender.open()
    await worker.open()
    done = 0
    next_start = time.perf_counter() + offset
    try:
        while time.perf_counter() < stop:
            if pace is not None:
                delay = next_start - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_start += 1 / pace
            sent = await _timed(latencies, sender, "/handoffs", {"to": me}, 201)
            hid = json.loads(sent)["id"]
            await _timed(latencies, worker, f"/handoffs/{hid}/ack", {"eta": "1h"}, 200)
            await _timed(
                latencies, worker, f"/handoffs/{hid}/status",
                {"status": "working", "message": "on it"}, 200,
            )  # fmt: skip
            await _timed(
                latencies, worker, f"/handoffs/{hid}/complete", {"result": {"ok": True}}, 200
            )
            done += 1
    finally:
        await sender.close()
        await worker.close()
    return done


def drive_lifecycles(
    host: str,
    port: int,
    tokens: dict[str, str],
    clients: int,
    seconds: float,
    pace: float | None,
) -> tuple[int, float, Latencies]:
    """Lifecycles done, seconds taken and every request's latency (ms, by command).

    ``clients`` agents ``worker_0``… run at once, each its own coroutine with its own
    connections; ``pace``: lifecycles/s per client (None: as fast as answers come).
    """

    async def run() -> tuple[int, float, Latencies]:
        latencies: list[Latencies] = [{c: [] for c in COMMANDS} for _ in range(clients)]
        began = time.perf_counter()
        stop = began + seconds
        sender = tokens["inbox_monitor"]
        period = 0.0 if pace is None else 1 / pace  # paced clients start spread over one
        done = await asyncio.gather(
            *(
                _client(
                    host,
                    port,
                    sender,
                    tokens[f"worker_{i}"],
                    f"worker_{i}",
                    stop,
                    pace,
                    sink,
                    offset=i * period / clients,
                )
                for i, sink in enumerate(latencies)
            )
        )
        elapsed = time.perf_counter() - began
        return sum(done), elapsed, {c: [ms for per in latencies for ms in per[c]] for c in COMMANDS}

    return asyncio.run(run())
