"""The MCP server: the ledger's lifecycle as tools for an LLM agent (see docs/mcp.md).

``serve_stdio`` runs ``handoff mcp --agent NAME``; ``mount_mcp`` adds the same tools
to ``handoff serve`` at ``/mcp`` (streamable HTTP, bearer tokens); ``TOOLS`` lists
them. Built on the official ``mcp`` SDK's low-level server.
"""

from handoff_ledger.adapters.faces.mcp.server import build_server, tool_list
from handoff_ledger.adapters.faces.mcp.stdio import serve_stdio
from handoff_ledger.adapters.faces.mcp.tools import TOOLS, ToolSpec

__all__ = ["TOOLS", "ToolSpec", "build_server", "serve_stdio", "tool_list"]
