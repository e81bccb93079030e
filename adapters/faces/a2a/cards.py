"""The agent cards: one per agent at ``/a2a/{agent}``, one for the ledger at the root.

An agent's skills are the protocol's kinds routed to it (``to = agent``); without a
protocol, one free-form skill. The security scheme is the ledger's bearer tokens
(the caller is the token's agent); a loopback trial requires none, since an
unauthenticated caller acts as the guest agent there (docs/a2a.md). The ledger's
card lists every agent as an interface of its own: the ``/a2a`` base with the agent
as the ``tenant``.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
)
from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, TransportProtocol

from handoff_ledger.adapters.faces.a2a.extension import declaration
from handoff_ledger.domain.protocol import KindSpec, Protocol

__all__ = ["BEARER", "agent_card", "agent_url", "kinds_for", "ledger_card"]

BEARER = "ledger_bearer"
"""The security scheme's name in every card."""
MODES = ["text/plain", "application/json"]
FREE_FORM = AgentSkill(
    id="handoff",
    name="handoff",
    description="Free-form handoff: data part = payload, text = trigger (no protocol applied).",
    tags=["handoff"],
    input_modes=MODES,
    output_modes=MODES,
)


def agent_url(base: str, agent: str) -> str:
    """An agent's A2A base URL (its name URL-encoded) on a server at ``base``."""
    return f"{base.rstrip('/')}/a2a/{quote(agent, safe='')}"


def kinds_for(protocol: Protocol | None, agent: str) -> list[KindSpec]:
    """The kinds the protocol routes to ``agent``, in file order."""
    if protocol is None:
        return []
    return [kind for kind in protocol.kinds.values() if kind.to == agent]


def _skill(kind: KindSpec) -> AgentSkill:
    about = kind.trigger or f"a handoff of kind {kind.name}"
    if kind.payload_schema is not None:
        about += f"; payload (the first data part): {json.dumps(kind.payload_schema)}"
    return AgentSkill(
        id=kind.name,
        name=kind.name,
        description=about,
        tags=["handoff", kind.name],
        input_modes=MODES,
        output_modes=MODES,
    )


def _card(name: str, about: str, interfaces: list[AgentInterface], trial: bool) -> AgentCard:
    card = AgentCard(
        name=name,
        description=about,
        supported_interfaces=interfaces,
        provider=AgentProvider(organization="handoff-ledger", url=interfaces[0].url),
        version="0.1.0",
        capabilities=AgentCapabilities(
            streaming=True, push_notifications=True, extensions=[declaration()]
        ),
        default_input_modes=MODES,
        default_output_modes=MODES,
    )
    card.security_schemes[BEARER].CopyFrom(
        SecurityScheme(
            http_auth_security_scheme=HTTPAuthSecurityScheme(
                scheme="Bearer",
                description="A ledger token (`handoff agents token create NAME`): the "
                "caller is the token's agent."
                + (" Optional on this trial server: without one you are `guest`." if trial else ""),
            )
        )
    )
    if not trial:
        requirement = SecurityRequirement()
        requirement.schemes[BEARER].SetInParent()
        card.security_requirements.append(requirement)
    return card


def _interfaces(url: str, tenant: str = "") -> list[AgentInterface]:
    return [
        AgentInterface(
            url=url,
            protocol_binding=binding,
            tenant=tenant,
            protocol_version=PROTOCOL_VERSION_CURRENT,
        )
        for binding in (TransportProtocol.JSONRPC, TransportProtocol.HTTP_JSON)
    ]


def agent_card(base: str, agent: str, protocol: Protocol | None, *, trial: bool) -> AgentCard:
    """``agent``'s card on a server at ``base``."""
    kinds = kinds_for(protocol, agent)
    card = _card(
        agent,
        f"{agent}, an agent of the handoff ledger: a message hands it work, acknowledged, "
        "tracked and escalated by the ledger.",
        _interfaces(agent_url(base, agent)),
        trial,
    )
    card.skills.extend([_skill(kind) for kind in kinds] or [FREE_FORM])
    return card


def ledger_card(
    base: str, agents: list[str], protocol: Protocol | None, *, trial: bool
) -> AgentCard:
    """The ledger's card: every agent (an interface each, the agent as tenant), every kind."""
    root = f"{base.rstrip('/')}/a2a"
    interfaces = [i for agent in agents for i in _interfaces(root, tenant=agent)]
    card = _card(
        "handoff-ledger",
        "A handoff ledger. Its agents: "
        + (", ".join(f"{agent} ({agent_url(base, agent)})" for agent in agents) or "none yet")
        + ". Each has its own card at its URL + /.well-known/agent-card.json.",
        interfaces or _interfaces(root),
        trial,
    )
    kinds = list(protocol.kinds.values()) if protocol else []
    card.skills.extend([_skill(kind) for kind in kinds] or [FREE_FORM])
    return card
