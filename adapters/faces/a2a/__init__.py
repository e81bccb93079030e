"""The A2A face: every agent of the ledger as an A2A agent at ``/a2a/{agent}``.

The a2a-sdk's JSON-RPC and HTTP+JSON Starlette routes answer the protocol; the
ledger is their task store and a handoff is the task (docs/a2a.md). Mounted by
``faces/server.py`` only (:func:`.routes.mount_a2a`).
"""
