"""A request body read by an ASGI middleware, and replayed to the app when it passes it on.

A fast path reads the whole body before it knows whether it can answer; a request
it leaves to the app must reach it exactly as sent.
"""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["Message", "read_body", "replay"]


async def read_body(receive: Receive, messages: list[Message]) -> bytes | None:
    """The whole body, every message kept in ``messages``; None if the client left."""
    chunks = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read again, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
