"""The web dashboard of ``handoff serve`` at ``/dashboard/``: see docs/dashboard.md.

Read-only, server-rendered pages (Jinja2, autoescaped) over the same documents as
the CLI and the HTTP API, a small script for the live parts (server-sent events,
the time slider) and a login that turns a bearer token into an HttpOnly cookie.
"""

from handoff_ledger.adapters.faces.dashboard.routes import router

__all__ = ["router"]
