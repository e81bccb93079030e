"""The vocabulary is true: every document the faces answered with fits its TypedDict.

The face snapshots (tests/e2e/snapshots, recorded from real CLI processes, a live
server and an MCP session) hold every document each face returns. Each one is
checked here against the type ``services/vocabulary.py`` names for it: no key
missing, no key the type does not name (except after a log entry's envelope, where
the event's own fields follow), every value of its declared type.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from handoff_ledger.adapters.services import vocabulary as v

SNAPSHOTS = Path(__file__).parent.parent / "e2e" / "snapshots"

OPEN_ENDED = {v.HistoryEntry, v.LogEntry}
"""The event's own fields follow the envelope: keys beyond the type are expected."""

CLI_TYPES: dict[str, Any] = {
    "send": v.SentDocument,
    "ack": v.CliAckDocument,
    "status": v.HandoffDocument,
    "complete": v.HandoffDocument,
    "fail": v.HandoffDocument,
    "reply": v.HandoffDocument,
    "decline": v.HandoffDocument,
    "cancel": v.HandoffDocument,
    "reassign": v.HandoffDocument,
    "note": v.HandoffDocument,
    "next": v.NextDocument,
    "show": v.ShowDocument,
    "inbox": v.InboxDocument,
    "overdue": v.OverdueDocument,
    "trace": v.ChainDocument,
    "gaps": v.GapsDocument,
    "notifications": v.NotificationsDocument,
    "replay": v.ReplayDocument,
    "digest": v.DigestDocument,
    "log": v.LogEntry,
    "export": v.ExportEntry,
    "watch": v.Watching,
    "reactor": v.ReactorReport,
    "a2a-bridge": v.BridgeReport,
    "agents list": v.AgentsDocument,
    "agents token create": v.TokenIssued,
    "agents token revoke": v.TokensRevoked,
    "agents token list": v.TokenList,
    "audit verify": v.AuditDocument,
    "protocol show": v.ProtocolDocument,
    "protocol apply": v.ProtocolDocument,
    "projections status": v.ProjectionsStatus,
    "projections rebuild": v.Rebuilt,
}

HTTP_TYPES: list[tuple[str, Any]] = [
    (r"POST /handoffs", v.SentDocument),
    (r"POST /handoffs/[^/]+/ack", v.AckDocument),
    (r"POST /handoffs/[^/]+/\w+", v.HandoffDocument),  # fail and reply among them
    (r"GET /handoffs/[^/]+", v.ShowDocument),
    (r"GET /agents/[^/]+/inbox", v.InboxDocument),
    (r"GET /agents/[^/]+/notifications", v.NotificationsDocument),
    (r"GET /agents/[^/]+/next", v.NextDocument),
    (r"GET /overdue", v.OverdueDocument),
    (r"GET /chains/[^/]+", v.ChainDocument),
    (r"GET /gaps", v.GapsDocument),
    (r"GET /log", v.LogPage),
    (r"GET /audit", v.AuditDocument),
    (r"GET /replay", v.ReplayDocument),
    (r"GET /projections", v.ProjectionsDocument),
    (r"GET /healthz", v.HealthDocument),
]

MCP_TYPES = {
    "send_handoff": v.SentDocument,
    "ack_handoff": v.AckDocument,
    "report_status": v.HandoffDocument,
    "complete_handoff": v.HandoffDocument,
    "fail_handoff": v.HandoffDocument,
    "reply_to_handoff": v.HandoffDocument,
    "decline_handoff": v.HandoffDocument,
    "my_inbox": v.InboxDocument,
    "get_handoff": v.ShowDocument,
    "trace_chain": v.ChainDocument,
    "read_log": v.LogPage,
    "my_notifications": v.NotificationsDocument,
    "wait_for_handoff": v.NextDocument | v.NothingTaken,
    "cancel_handoff": v.HandoffDocument,
    "reassign_handoff": v.HandoffDocument,
    "add_note": v.HandoffDocument,
}


def problems(value: Any, expected: Any, where: str = "$") -> list[str]:
    """Every way ``value`` does not fit the type ``expected``."""
    if expected is Any or expected is object:
        return []
    origin = get_origin(expected)
    if origin in (Union, types.UnionType):
        options = [problems(value, option, where) for option in get_args(expected)]
        return [] if any(not found for found in options) else min(options, key=len)
    if expected is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if is_typeddict(expected):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        hints = get_type_hints(expected)
        found = [f"{where}.{k}: missing" for k in expected.__required_keys__ if k not in value]
        if expected not in OPEN_ENDED:
            found += [f"{where}.{k}: not in {expected.__name__}" for k in value if k not in hints]
        for key, hint in hints.items():
            if key in value:
                found += problems(value[key], hint, f"{where}.{key}")
        return found
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        (item,) = get_args(expected)
        return [p for i, each in enumerate(value) for p in problems(each, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        _, item = get_args(expected)
        return [p for k, each in value.items() for p in problems(each, item, f"{where}.{k}")]
    if expected is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        fits = fits or value == "<wall-clock-lag>"  # the snapshots normalise wall-clock lag
    elif expected is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, expected)
    return [] if fits else [f"{where}: {value!r} is not {getattr(expected, '__name__', expected)}"]


def recordings(face: str) -> list[dict[str, Any]]:
    document = json.loads((SNAPSHOTS / f"{face}.json").read_text())
    return list(document["recordings"])


def cli_command(request: str) -> str:
    words = request.split()[1:]
    return " ".join(words[:3] if words[0] == "agents" and words[1] == "token" else words[:2])


def cli_type(request: str) -> Any:
    words = request.split()[1:]
    for size in (3, 2, 1):
        found = CLI_TYPES.get(" ".join(words[:size]))
        if found is not None:
            return found
    raise AssertionError(f"no vocabulary type for {request!r}")


def test_every_cli_json_answer_fits_its_type() -> None:
    checked = 0
    for recording in recordings("cli"):
        request, out = recording["request"], recording["stdout"]
        if not out.strip() or not ("--json" in request.split() or " export" in request):
            continue
        expected = cli_type(request) if recording["exit"] == 0 else v.ErrorDocument
        for line in out.splitlines():
            assert problems(json.loads(line), expected) == [], request
            checked += 1
    assert checked > 60


def http_type(request: str) -> Any:
    method, path = request.split()[:2]
    route = f"{method} {path.split('?')[0]}"
    return next((t for pattern, t in HTTP_TYPES if re.fullmatch(pattern, route)), None)


def test_every_http_json_answer_fits_its_type() -> None:
    checked = 0
    for recording in recordings("http"):
        if recording["type"] != "application/json":
            continue
        body = json.loads(recording["body"])
        status = recording["status"]
        expected = v.ErrorDocument if status >= 400 else http_type(recording["request"])
        if expected is None:
            continue
        assert problems(body, expected) == [], recording["request"]
        checked += 1
    assert checked > 50


def tool_name(request: str) -> str:
    """The tool a recorded call named (over stdio, or in a JSON-RPC body over HTTP)."""
    for start in (i for i, c in enumerate(request) if c == "{"):
        sent, _ = json.JSONDecoder().raw_decode(request[start:])
        found = sent.get("params", sent).get("name")
        if isinstance(found, str):
            return found
    raise AssertionError(f"no tool named in {request!r}")


def test_every_mcp_tool_answer_fits_its_type() -> None:
    checked = 0
    for recording in recordings("mcp"):
        message = json.loads(recording["body"])
        request = recording["request"]
        if "tools/call" not in request or "result" not in message:
            continue
        name = tool_name(request)
        result = message["result"]
        document = json.loads(result["content"][0]["text"])
        expected = v.ErrorDocument if result.get("isError") else MCP_TYPES[name]
        assert problems(document, expected) == [], request
        checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"agent": "a", "revoked": "1"}, v.TokensRevoked),
        ({"agent": "a"}, v.TokensRevoked),
        ({"agent": "a", "revoked": 1, "extra": True}, v.TokensRevoked),
        ({"error": {"code": 1, "message": "m"}}, v.ErrorDocument),
    ],
)
def test_the_check_itself_catches_a_document_that_does_not_fit(
    document: dict[str, Any], expected: Any
) -> None:
    assert problems(document, expected) != []
