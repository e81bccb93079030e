"""Every top-level command of ``handoff`` by name: the modules that register it, its
panel in ``handoff --help`` and the help line shown there.

A static table, so that ``handoff --help`` lists every command without importing one,
and ``handoff ack`` imports only ``lifecycle`` (issue 25, item 4: fast CLI start).
``tests/e2e/test_cli_start.py`` holds it equal to what the modules register (the
commands, their modules and the first paragraph of each one's help), so it cannot
drift from them. Standard library only: ``main`` reads it on every start.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COMMANDS", "Command"]


class Command(NamedTuple):
    """What ``handoff --help`` shows of one command, and where to find the rest."""

    modules: tuple[str, ...]
    """The modules of ``adapters/cli`` that register it (a group may take several)."""
    panel: str
    """Its panel in ``handoff --help``: Lifecycle, Reading, Forensics or Running."""
    help: str
    """The first paragraph of its help, as ``handoff --help`` shows it."""


COMMANDS: dict[str, Command] = {
    "send": Command(
        ("lifecycle",), "Lifecycle", "Create a handoff; prints its id, chain_id and state."
    ),
    "ack": Command(
        ("lifecycle",),
        "Lifecycle",
        "Acknowledge a handoff; prints queue_position, eta and next_update_due.",
    ),
    "status": Command(
        ("lifecycle",),
        "Lifecycle",
        "Report status on a handoff (working, progress, stuck, need_help).",
    ),
    "complete": Command(
        ("lifecycle",),
        "Lifecycle",
        "Complete a handoff (the result is checked against the kind's result schema).",
    ),
    "fail": Command(
        ("lifecycle",),
        "Lifecycle",
        "Give up on a handoff after trying (the receiver), saying why; terminal.",
    ),
    "decline": Command(
        ("lifecycle",), "Lifecycle", "Decline a handoff (the receiver), saying why."
    ),
    "cancel": Command(("lifecycle",), "Lifecycle", "Cancel a handoff (its sender, or an admin)."),
    "reassign": Command(
        ("lifecycle",),
        "Lifecycle",
        "Reassign a handoff to another receiver (its sender, or an admin).",
    ),
    "reply": Command(
        ("lifecycle",),
        "Lifecycle",
        "Answer the receiver of an open handoff (its sender, an escalation target or an admin).",
    ),
    "note": Command(
        ("lifecycle",),
        "Lifecycle",
        "Add a note to a handoff (anyone, any time: logged, no obligations).",
    ),
    "next": Command(
        ("work_commands",),
        "Lifecycle",
        (
            "Take the next handoff for AGENT and ack it: your own unfinished one first, then the\n"
            "head of the queue, then one whose worker missed its update. Nothing: JSON null."
        ),
    ),
    "work": Command(
        ("work_commands",),
        "Lifecycle",
        (
            "Work AGENT's handoffs with a program: payload JSON on its stdin; exit 0 completes\n"
            "(stdout: the result), 3 declines, 4 fails (stderr: the reason), anything else (or\n"
            "the deadline) reports stuck. Runs until interrupted, or idle for --until-idle."
        ),
    ),
    "show": Command(
        ("reading",),
        "Reading",
        "One handoff: state, timers, full history (as it stood at --as-of).",
    ),
    "inbox": Command(
        ("reading",),
        "Reading",
        "The agent's queue of open handoffs with queue positions (head first).",
    ),
    "overdue": Command(
        ("reading",), "Reading", "Handoffs whose ack, update or deadline has passed."
    ),
    "log": Command(
        ("reading",),
        "Reading",
        "The handoff log, oldest first (with --json: one JSON object per line).",
    ),
    "notifications": Command(
        ("views_commands",),
        "Reading",
        "An agent's feed of broadcasts on the chains it takes part in or watches.",
    ),
    "watch": Command(
        ("views_commands",),
        "Reading",
        "Subscribe the --as agent to the chain of handoff ID: it hears every broadcast on it.",
    ),
    "digest": Command(
        ("digest_commands",),
        "Reading",
        "While you were away: what passed, what was escalated, what waits (on --for).",
    ),
    "agents": Command(
        ("views_commands", "serve_commands", "webhook_secret_commands"),
        "Reading",
        "The agents of the ledger.",
    ),
    "trace": Command(
        ("trace_commands",),
        "Forensics",
        "The whole chain of a handoff as a tree with each step's timing, and where it broke.",
    ),
    "gaps": Command(
        ("trace_commands",),
        "Forensics",
        "Every broken chain in the ledger: where each broke, whose move it was, since when.",
    ),
    "replay": Command(
        ("trace_commands",),
        "Forensics",
        "Every view as it stood at --until, rebuilt in memory from the log (live views untouched).",
    ),
    "export": Command(
        ("audit_commands",),
        "Forensics",
        "The log as JSON lines for auditors: every event with its hash-chain link (docs/audit.md).",
    ),
    "audit": Command(("audit_commands",), "Forensics", "Check the log for tampering."),
    "init": Command(
        ("init_command",),
        "Running",
        "Create the ledger at --db (events table, guard, views); one already there is kept.",
    ),
    "serve": Command(
        ("serve_commands",),
        "Running",
        "The HTTP API (its OpenAPI document at /openapi.json) and the web dashboard at"
        " /dashboard/.",
    ),
    "reactor": Command(
        ("reactor_commands",),
        "Running",
        "Fire due timers (escalations) and create protocol follow-ups.",
    ),
    "mcp": Command(
        ("mcp_commands",),
        "Running",
        "MCP server on stdio: the handoff lifecycle as tools, acting as --agent.",
    ),
    "demo": Command(
        ("demo",), "Running", "The seed scenario on the embedded default, with a simulated clock."
    ),
    "a2a-bridge": Command(
        ("bridge_commands",),
        "Running",
        (
            "Deliver handoffs to the protocol's remote A2A agents (``a2a = URL``) and record\n"
            "what their tasks do as those agents' acks, statuses and outcomes."
        ),
    ),
    "projections": Command(("views_commands",), "Running", "The views: status, rebuild, run."),
    "protocol": Command(("protocol_commands",), "Running", "Load and inspect the protocol file."),
}
"""Every top-level command and group, in the order of ``handoff --help``."""
