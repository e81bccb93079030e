"""The entry points that serve agents over a wire: ``runtime`` (what they share), the
HTTP API, the dashboard and MCP (siblings that never import one another), and
``server`` (the one place that mounts them for ``handoff serve``)."""
