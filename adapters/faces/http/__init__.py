"""The HTTP API of ``handoff serve`` (FastAPI): see docs/http.md. ``faces/server.py``
mounts it with the dashboard and MCP."""
