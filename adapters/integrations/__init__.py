"""The ledger inside the agent frameworks people already use (docs/integrate.md, 5).

Each framework has a module of its own, built on :mod:`handoff_ledger.client` (HTTP to
``handoff serve``), that imports its framework only when it is itself imported:

* ``handoff_ledger.integrations.openai_agents``: the OpenAI Agents SDK (0.24), from
  ``pip install 'handoff-ledger[openai-agents]'``;
* ``handoff_ledger.integrations.langgraph``: LangGraph (1.2) and its SQLite
  checkpointer, from ``pip install 'handoff-ledger[langgraph]'``.

Importing this package needs neither framework; importing a module whose framework is
missing raises :class:`ImportError` naming the extra to install.
"""

__all__: list[str] = []
