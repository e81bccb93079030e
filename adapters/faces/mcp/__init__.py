"""The MCP server: the ledger's lifecycle as tools for an LLM agent (see docs/mcp.md).

``stdio.serve_stdio`` runs ``handoff mcp --agent NAME``; ``mount.mount_mcp`` adds
the same tools to ``handoff serve`` at ``/mcp`` (streamable HTTP, bearer tokens;
the SDK imported at the first request); ``tools.TOOLS`` lists them. Built on the
official ``mcp`` SDK's low-level server. This package imports nothing itself, so
that ``handoff serve`` can mount ``/mcp`` without loading the SDK.
"""
