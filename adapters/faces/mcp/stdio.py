"""``handoff mcp --agent NAME``: the MCP tools over stdin/stdout, acting as NAME."""

from __future__ import annotations

import anyio
from mcp.server.stdio import stdio_server

from handoff_ledger.adapters.faces.mcp.server import LocalBackend, build_server
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.tokens import Caller

__all__ = ["serve_stdio"]


def serve_stdio(ledger: Ledger, agent: str) -> None:
    """Serve one MCP client on stdin/stdout until it closes stdin.

    Under a protocol, ``agent`` must be one it declares (``UnknownAgent`` otherwise,
    before anything is served). Stray output cannot corrupt the wire: the SDK points
    fd 1 at stderr while it serves.
    """
    ledger.require_declared(agent, "agent")
    me = Caller(agent=agent, admin=ledger.is_admin(agent))
    server = build_server(LocalBackend(ledger), lambda ctx: me, agent=agent)

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
