"""What the HTTP API, the dashboard and MCP share: the service object, the error
mapping, the SSE frame loop, the token cache."""
