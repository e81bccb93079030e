"""``handoff mcp --agent NAME``: the MCP server on stdio for an LLM agent acting as NAME."""

from __future__ import annotations

from typing import Annotated

import typer

from handoff_ledger.adapters.cli.app import app
from handoff_ledger.adapters.cli.options import DbOption, ledger_at
from handoff_ledger.domain.errors import InvalidInput


@app.command("mcp")
def mcp(
    agent: Annotated[
        str,
        typer.Option("--agent", help="The agent every tool call acts as, e.g. code_agent."),
    ],
    db: DbOption = None,
) -> None:
    """MCP server on stdio: the handoff lifecycle as tools, acting as --agent.

    Run it from an MCP host (see docs/mcp.md); it serves until the host closes stdin.
    """
    from handoff_ledger.adapters.faces.mcp.stdio import serve_stdio

    if not agent.strip():
        raise InvalidInput("agent: must not be empty")
    with ledger_at(db) as ledger:
        serve_stdio(ledger, agent.strip())
