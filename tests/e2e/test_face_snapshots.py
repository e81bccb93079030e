"""Snapshots of every face's documents, so a move of the code behind them changes no byte.

Each face runs one deterministic scenario on a fresh SQLite store whose time is a
file clock (``HANDOFF_CLOCK=file:PATH``, starting at 09:00 UTC on 25 Nov 2026, the
``START`` of tests/conftest.py) and records what a user of that face sees:

- ``cli.json``: every ``handoff`` command that prints ``--json`` (and ``export``,
  whose output is JSON lines without the flag), with its exit code and stdout (and
  stderr, were there any), refusals (exit 1) and bad input (exit 2) included;
- ``http.json``: a request to every route of the OpenAPI document (checked), a few
  error answers, and the first frames of the two event streams, against a real
  ``handoff serve``: status, content type, redirect target and body;
- ``openapi.json``: ``/openapi.json`` byte for byte as served;
- ``mcp.json``: JSON-RPC over stdio to ``handoff mcp --agent NAME`` (each answer
  as the line the server wrote: initialize, the tool list, every tool's result,
  tool errors and protocol errors), and a few requests to ``/mcp`` of ``handoff
  serve``;
- ``dashboard.json``: the dashboard of the HTTP face's server. Its only JSON is the
  401 of a fragment; its HTML pages, fragments, redirects and live rows are
  deterministic once normalized (their times, relative ones too, come from the
  file clock), so they are recorded as text; its script and style sheet by sha256.

Bodies are kept as the text the face wrote (key order, spacing and escapes are
compared too), after normalization: see :class:`Normalizer`. Other headers (Date,
Server, Set-Cookie with a token) are not recorded. Between writes the scenarios move
the clock a minute on, so no two handoffs share a creation time: wherever the
ledger breaks a tie by id (queues, timers, breaks), random ids would otherwise
reorder a document from one run to the next. ``replay`` lists view rows by primary
key, i.e. by random id whatever the times: those rows alone are put in a stable
order (:func:`sort_view_rows`). Streams send a keep-alive comment every 15 s of
wall time: only their first frames, sent at once, are recorded.

``HANDOFF_UPDATE_SNAPSHOTS=1 pytest tests/e2e/test_face_snapshots.py`` rewrites the
files under ``snapshots/``; without it each face is compared with its file and a
difference fails with a unified diff naming the face and the request.

Only public entry points are used (the ``handoff`` console script, HTTP, MCP over
stdio and HTTP), through the helpers of conftest.py and test_http.py: the modules
under ``handoff_ledger.adapters`` are about to move, and this test must not.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CLI, HANDOFF, FileClock  # the clock's module path: conftest's to know
from test_http import start_server, stop

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("HANDOFF_UPDATE_SNAPSHOTS", "") == "1"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
"""tests/conftest.py's ``START`` (a second module named conftest cannot be imported)."""
UNKNOWN = "00000000-0000-4000-8000-000000000000"
"""A handoff id that names nothing: chosen here, so left as it is."""

PROTOCOL = """\
name = "snapshot: bug reports and the replies they lead to"

[agents.inbox_monitor]
[agents.code_agent]
[agents.support_agent]
[agents.backup_agent]
[agents."human:me"]
admin = true

[kinds.bug_report]
trigger = "Bug report detected"
to = "code_agent"
priority = "medium"
ack_within = "1h"
deadline = "4h"
escalate_to = ["human:me"]
escalation = [
  { on = "ack_timeout", notify = ["human:me"] },
  { after = "1h", notify = ["human:me"], action = "reassign", to = "backup_agent" },
]
payload.required = ["email_id", "customer", "issue"]
payload.properties.customer = { type = "string", format = "email" }
on_complete.kind = "customer_reply"
on_complete.to = "inbox_monitor"
on_complete.payload = { customer = "$payload.customer", reply = "$result.reply" }

[kinds.customer_reply]
trigger = "Investigation finished: reply to the customer"
to = "inbox_monitor"
ack_within = "30m"
escalate_to = ["human:me"]
payload.required = ["customer", "reply"]
"""

PROTOCOL_SHA256 = hashlib.sha256(PROTOCOL.encode()).hexdigest()
"""The protocol's sha256 (``protocol show``): the same every run, so left as it is."""

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button ✗ on mobile"}
"""A bug report's payload (not ASCII: the faces write UTF-8, not escapes)."""


# ------------------------------------------------------------------ normalization

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
TOKEN = re.compile(r"\bhl_[A-Za-z0-9_-]{20,}")
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
HASH_PREFIX = re.compile(r'("hash_prefix": ?")([0-9a-f]{12})"')
LAG = re.compile(r'("lag_seconds": ?)(\d+(?:\.\d+)?(?:e[+-]?\d+)?)')
SHORT = re.compile(r"\b[0-9a-f]{8}\b")


class Normalizer:
    """What differs from run to run, replaced by named placeholders, per face.

    - ``<uuid-N>``: handoff, chain and event ids are random (uuid4); each distinct id
      is numbered in order of first appearance across the face's whole recording
      (requests included), so "the same handoff" stays visible. The dashboard also
      shows an id's first 8 characters: ``<uuid-N:8>``.
    - ``<token-N>``: bearer token secrets are 32 random bytes; ``<token-hash-N>``: the
      start of a token's sha256 that ``agents token list`` shows.
    - ``<sha256-N>``: the events' hash chain (``hash``, ``prev_hash``) covers their
      handoff's id, random for handoffs sent without a key, so their hashes change
      with it. (The protocol's sha256 and the dashboard assets' are left as they are.)
    - ``"<wall-clock-lag>"``: ``lag_seconds`` of a view that is behind is measured
      against the wall clock (``time.time()`` in ``Views.status``), not the file
      clock; 0.0 (caught up) is kept as it is.
    - ``<port>`` and ``<tmp>``: the server's free port and the test's temporary folder.
    """

    def __init__(self, *, literals: dict[str, str] | None = None, short_ids: bool = False) -> None:
        self.labels: dict[str, dict[str, str]] = {}
        self.literals = literals or {}
        self.short_ids = short_ids

    def label(self, kind: str, value: str) -> str:
        """The placeholder of ``value``: the next number of its kind when first seen."""
        table = self.labels.setdefault(kind, {})
        if value not in table:
            table[value] = f"<{kind}-{len(table) + 1}>"
        return table[value]

    def __call__(self, text: str) -> str:
        for literal, placeholder in self.literals.items():
            text = text.replace(literal, placeholder)
        text = UUID.sub(lambda m: m[0] if m[0] == UNKNOWN else self.label("uuid", m[0]), text)
        text = TOKEN.sub(lambda m: self.label("token", m[0]), text)
        text = SHA256.sub(
            lambda m: m[0] if m[0] == PROTOCOL_SHA256 else self.label("sha256", m[0]), text
        )
        text = HASH_PREFIX.sub(lambda m: f'{m[1]}{self.label("token-hash", m[2])}"', text)
        text = LAG.sub(lambda m: m[0] if float(m[2]) == 0 else f'{m[1]}"<wall-clock-lag>"', text)
        if self.short_ids:
            shorts = {raw[:8]: label for raw, label in self.labels.get("uuid", {}).items()}
            text = SHORT.sub(lambda m: f"{shorts[m[0]][:-1]}:8>" if m[0] in shorts else m[0], text)
        return text


@dataclass
class Face:
    """One face's recording: each request and what the face answered, normalized."""

    name: str
    normalize: Normalizer = field(default_factory=Normalizer)
    recordings: list[dict[str, Any]] = field(default_factory=list)

    def record(
        self,
        request: str,
        *,
        rows_by_text: bool = False,
        as_is: dict[str, Any] | None = None,
        **answer: Any,
    ) -> None:
        """Keep one exchange (its text normalized, the request's first; ``as_is`` not).

        ``rows_by_text``: the answer is a ``replay`` document, whose view rows are
        listed in primary-key order, i.e. by random handoff id; they are put in the
        order of their normalized text (see :func:`sort_view_rows`).
        """
        entry: dict[str, Any] = {"request": self.normalize(request)}
        for key, value in answer.items():
            if not isinstance(value, str):
                entry[key] = value
                continue
            seen = len(self.normalize.labels.get("uuid", {}))
            entry[key] = self.normalize(value)
            if rows_by_text and key in ("stdout", "body"):
                # A number given to an id first seen here would follow the random order.
                assert len(self.normalize.labels.get("uuid", {})) == seen, (request, value)
                entry[key] = sort_view_rows(entry[key])
        self.recordings.append(entry | (as_is or {}))


def sort_view_rows(text: str) -> str:
    """A ``replay`` document with each view table's rows in the order of their text.

    The rest stays byte for byte as written: the document must be laid out exactly as
    ``json.dumps`` lays it out (the CLI's spacing, or the HTTP API's compact one),
    which is checked before anything is moved.
    """
    body = text.removesuffix("\n")
    document = json.loads(body)
    for separators in ((", ", ": "), (",", ":")):
        if json.dumps(document, ensure_ascii=False, separators=separators) == body:
            break
    else:
        raise AssertionError(f"not laid out as json.dumps lays out JSON: {body[:200]}")
    for tables in document.get("views", {}).values():
        for rows in tables.values():
            rows.sort(key=lambda row: json.dumps(row, ensure_ascii=False))
    return json.dumps(document, ensure_ascii=False, separators=separators) + text[len(body) :]


# ------------------------------------------------------------------ comparison


def check(face: Face) -> None:
    """Compare a face with its snapshot file (or rewrite it, under the update flag)."""
    path = SNAPSHOTS / f"{face.name}.json"
    document = {"face": face.name, "recordings": face.recordings}
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run with HANDOFF_UPDATE_SNAPSHOTS=1 to take it")
    expected = json.loads(path.read_text(encoding="utf-8"))["recordings"]
    if expected != face.recordings:
        pytest.fail(differences(face.name, expected, face.recordings), pytrace=False)


def check_bytes(name: str, served: bytes) -> None:
    """Compare a document kept byte for byte (the OpenAPI document)."""
    path = SNAPSHOTS / name
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_bytes(served)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run with HANDOFF_UPDATE_SNAPSHOTS=1 to take it")
    expected = path.read_bytes()
    if expected != served:
        old, new = expected.decode("utf-8"), served.decode("utf-8")
        diff = text_diff(old, new, f"snapshots/{name}", f"GET /{name} now")
        pytest.fail(f"face openapi, request GET /{name} differs:\n{diff}", pytrace=False)


def differences(face: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> str:
    """Which requests of ``face`` answer differently now, each with a unified diff."""
    parts = []
    asked = [e["request"] for e in expected], [a["request"] for a in actual]
    if asked[0] != asked[1]:
        lines = difflib.unified_diff(*asked, "snapshot requests", "requests now", lineterm="")
        parts.append(f"face {face}: the requests differ:\n" + "\n".join(lines))
    for number, (old, new) in enumerate(zip(expected, actual, strict=False), start=1):
        if old == new:
            continue
        header = f"face {face}, request #{number}: {new['request']}"
        for key in dict.fromkeys([*old, *new]):
            if old.get(key) == new.get(key):
                continue
            if isinstance(old.get(key), str) and isinstance(new.get(key), str):
                diff = text_diff(old[key], new[key], f"snapshot {key}", f"{key} now")
                parts.append(f"{header}: {key} differs:\n{diff}")
            else:
                parts.append(f"{header}: {key} was {old.get(key)!r}, is {new.get(key)!r}")
    if len(expected) != len(actual):
        parts.append(f"face {face}: {len(expected)} requests in the snapshot, {len(actual)} now")
    shown = "\n\n".join(parts[:12])
    more = f"\n\n... and {len(parts) - 12} more differences" if len(parts) > 12 else ""
    return f"{shown}{more}\n\n(HANDOFF_UPDATE_SNAPSHOTS=1 rewrites the snapshots)"


def text_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two bodies: JSON laid out a key per line, else line by line.

    When the laid-out JSON is the same, the bytes differ in layout only (spacing,
    escapes): then the raw lines are compared, their invisible characters shown.
    """
    laid_old, laid_new = readable(old), readable(new)
    if laid_old == laid_new:
        laid_old, laid_new = (
            [repr(line) for line in old.split("\n")],
            [repr(line) for line in new.split("\n")],
        )
    lines = difflib.unified_diff(laid_old, laid_new, old_name, new_name, lineterm="", n=4)
    return "\n".join(lines)


def readable(text: str) -> list[str]:
    """A body's lines for a diff: each JSON document (or JSON line) indented.

    JSON held in a string (an MCP result's text content) is laid out too.
    """
    out: list[str] = []
    for line in text.splitlines():
        try:
            document = unfolded(json.loads(line))
        except ValueError:
            out.append(line)
        else:
            out += json.dumps(document, ensure_ascii=False, indent=2).splitlines()
    return out


def unfolded(value: Any) -> Any:
    """``value`` with every string that holds a JSON object or list decoded (for reading)."""
    if isinstance(value, dict):
        return {key: unfolded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unfolded(item) for item in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return {"(JSON text)": unfolded(json.loads(value))}
        except ValueError:
            return value
    return value


# ------------------------------------------------------------------ stores and clocks


def clocked_cli(folder: Path) -> CLI:
    """The CLI on a fresh SQLite file in ``folder``, on a file clock set to ``START``."""
    folder.mkdir(parents=True, exist_ok=True)
    clock = FileClock(folder / "clock")
    clock.set(START)
    return CLI(f"sqlite:///{folder}/ledger.db", folder, clock)


def tick(cli: CLI, minutes: float = 1) -> None:
    """Move the face's clock on: every write happens at a time of its own."""
    assert cli.clock is not None
    cli.clock.advance(timedelta(minutes=minutes))


def set_clock(cli: CLI, minutes: float) -> None:
    """Set the face's clock to ``minutes`` after ``START`` (hours pass at once)."""
    assert cli.clock is not None
    cli.clock.set(START + timedelta(minutes=minutes))


def at(minutes: float) -> str:
    """The ISO time ``minutes`` after ``START``."""
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------ the CLI face


@dataclass
class CliFace:
    """Runs ``handoff`` commands and records exit code, stdout (and any stderr)."""

    cli: CLI
    face: Face

    def __call__(self, *args: str, expect: int = 0) -> str:
        """Run one command (it must exit with ``expect``) and record it."""
        done = self.cli.run(*args, expect=expect)
        self.keep(args, done)
        return done.stdout

    def json(self, *args: str, expect: int = 0) -> Any:
        """Run one command with ``--json`` and record it; its document."""
        return json.loads(self(*args, "--json", expect=expect))

    def at_once(self, *commands: tuple[str | int, ...]) -> None:
        """Commands that write nothing to the log, run side by side, recorded in order.

        Each ``handoff`` process costs about 0.4 s of CPU, mostly imports: reads run
        in parallel keep the face under its time budget. A command's trailing int is
        the exit code it must end with (else 0).
        """
        planned = [
            (
                tuple(a for a in command if isinstance(a, str)),
                command[-1] if isinstance(command[-1], int) else 0,
            )
            for command in commands
        ]
        with ThreadPoolExecutor(max_workers=4) as pool:
            done = list(pool.map(lambda p: self.cli.run(*p[0], expect=p[1]), planned))
        for (args, _), result in zip(planned, done, strict=True):
            self.keep(args, result)

    def keep(self, args: tuple[str, ...], done: subprocess.CompletedProcess[str]) -> None:
        answer: dict[str, Any] = {"exit": done.returncode, "stdout": done.stdout}
        if done.stderr:
            answer["stderr"] = done.stderr
        request = "handoff " + shlex.join(args)
        self.face.record(request, rows_by_text=args[0] == "replay", **answer)


def test_cli_face(tmp_path: Path) -> None:
    """A morning on the command line: the lifecycle, errors, hours passing, every read."""
    cli = clocked_cli(tmp_path / "cli")
    (cli.cwd / "handoff.toml").write_text(PROTOCOL, encoding="utf-8")
    face = Face("cli", Normalizer(literals={str(tmp_path): "<tmp>"}))
    run = CliFace(cli, face)
    cli.run("init")  # reads never create a store (not a face entry: its output names tmp)

    # The protocol, before and after it is applied (a relative path: no tmp folder).
    run.json("protocol", "show")
    run.json("protocol", "apply", "handoff.toml", "--as", "human:me")
    run.json("protocol", "show")

    # Tokens: secrets and hashes normalized.
    run.json("agents", "token", "create", "code_agent")
    run.json("agents", "token", "create", "human:me", "--admin")
    tick(cli)
    run.json("agents", "token", "revoke", "code_agent")
    run.json("agents", "token", "list")

    # The lifecycle.
    tick(cli)
    bug = ["send", "--from", "inbox_monitor", "--kind", "bug_report", "--key", "msg_123"]
    h1 = run.json(*bug, "--payload", json.dumps(BUG, ensure_ascii=False))["id"]
    tick(cli)
    run.json(*bug, "--payload", json.dumps(BUG, ensure_ascii=False))  # duplicate: the first
    run.json("projections", "status")  # behind the log: the lag is wall-clock time
    tick(cli)
    h2 = run.json("send", "--from", "inbox_monitor", "--to", "support_agent", "--trigger",
                  "Refund request", "--priority", "high", "--ack-within", "30m",
                  "--escalate-to", "human:me", "--payload", '{"order": 42}')["id"]  # fmt: skip
    tick(cli)
    h3 = run.json("send", "--from", "support_agent", "--to", "code_agent", "--priority",
                  "critical", "--deadline", "3h", "--escalate-to", "human:me")["id"]  # fmt: skip
    tick(cli)
    run.json("ack", h1, "--as", "code_agent", "--eta", "2h", "--next-update", "30m")
    tick(cli)
    run.json("ack", h1, "--as", "code_agent")  # again: the first ack
    tick(cli)
    run.json("ack", h3, "--as", "code_agent", "--next-update", "15m")
    tick(cli)
    run.json("status", h1, "--as", "code_agent", "--status", "progress", "--message",
             "Reproduced on iOS", "--eta", "1h", "--next-update", "1h")  # fmt: skip
    tick(cli)
    run.json("note", h1, "--as", "support_agent", "--message", "The customer called again")
    tick(cli)
    run.json("watch", h1, "--as", "support_agent")
    run.json("watch", h1, "--as", "support_agent")  # already watching
    tick(cli)
    run.json("complete", h1, "--as", "code_agent", "--result",
             '{"reply": "Fixed in 2.3.1", "fix": "PR #412"}')  # fmt: skip
    tick(cli)
    h4 = run.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--trigger",
                  "Feature idea")["id"]  # fmt: skip
    tick(cli)
    run.json("decline", h4, "--as", "code_agent", "--reason", "not a bug: product decides")
    tick(cli)
    h5 = run.json("send", "--from", "inbox_monitor", "--to", "support_agent")["id"]
    tick(cli)
    run.json("cancel", h5, "--as", "inbox_monitor", "--reason", "sent twice")
    tick(cli)
    h6 = run.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--ack-within",
                  "2h")["id"]  # fmt: skip
    tick(cli)
    run.json("reassign", h6, "--to", "backup_agent", "--as", "inbox_monitor", "--reason",
             "code_agent is busy")  # fmt: skip
    tick(cli)
    h7 = run.json(*bug[:5], "--key", "msg_124", "--payload",
                  '{"email_id": "msg_124", "customer": "li@company.com", "issue": "Crash"}')["id"]  # fmt: skip
    tick(cli)
    h8 = run.json("send", "--from", "inbox_monitor", "--to", "code_agent", "--trigger",
                  "Flaky test", "--escalate-to", "human:me")["id"]  # fmt: skip
    tick(cli)
    run.json("status", h8, "--as", "code_agent", "--status", "need_help", "--message",
             "Which runner?")  # fmt: skip
    tick(cli)
    run.json("reply", h8, "--as", "inbox_monitor", "--message", "Use runner 2", "--data",
             '{"runner": 2}')  # fmt: skip
    tick(cli)
    run.json("fail", h8, "--as", "code_agent", "--reason", "runner 2 is down too", "--result",
             '{"tried": [1, 2]}')  # fmt: skip

    # Refusals (exit 1) and bad input (exit 2): {"error": {...}} on stdout.
    run.at_once(
        ("ack", h3, "--as", "support_agent", "--json", 1),
        ("complete", h1, "--as", "code_agent", "--json", 1),
        ("cancel", h7, "--as", "code_agent", "--reason", "mine now", "--json", 1),
        ("reply", h7, "--as", "code_agent", "--message", "to myself", "--json", 1),
        ("reply", h8, "--as", "inbox_monitor", "--message", "too late", "--json", 1),
        ("fail", h7, "--as", "inbox_monitor", "--reason", "not yours", "--json", 1),
        ("fail", h7, "--as", "code_agent", "--reason", "", "--json", 2),
        ("show", UNKNOWN, "--json", 2),
        ("show", "not-a-uuid", "--json", 2),
        ("send", "--from", "inbox_monitor", "--to", "code_agent", "--ack-within", "soon",
         "--json", 2),
        ("send", "--from", "stranger", "--to", "code_agent", "--json", 2),
        ("send", "--from", "inbox_monitor", "--kind", "bug_report", "--payload",
         '{"email_id": "msg_9"}', "--json", 2),
        ("send", "--from", "inbox_monitor", "--kind", "unheard_of", "--json", 2),
        ("protocol", "apply", "missing.toml", "--json", 2),
        ("send", "--to", "code_agent", "--json", 2),  # a usage error: --from is required
    )  # fmt: skip

    # The reads, while everything is fresh.
    run.json("inbox", "code_agent")
    run.json("inbox", "code_agent", "--as-of", at(5))
    run.json("projections", "status")  # caught up by the read: no lag

    # Hours pass: the reactor escalates, reassigns, and routes the follow-up.
    set_clock(cli, 105)
    run.json("reactor", "--once")
    run.json("reactor", "--once")  # nothing left to do: each timer fires once
    set_clock(cli, 180)
    run.json("reactor", "--once")

    run.json("inbox", "inbox_monitor")  # catches the views up: the reads below only read
    run.at_once(
        ("show", h1, "--json"),
        ("show", h1, "--as-of", at(12), "--json"),
        ("show", h7, "--json"),
        ("inbox", "backup_agent", "--json"),
        ("overdue", "--json"),
        ("overdue", "--as-of", at(60), "--json"),
        ("notifications", "inbox_monitor", "--json"),
        ("notifications", "inbox_monitor", "--since", "10", "--json"),
        ("notifications", "human:me", "--limit", "3", "--json"),
        ("log", "--json"),  # one JSON object per line
        ("log", "--since", "20", "--json"),
        ("log", "--since", at(8), "--until", at(14), "--json"),
        ("trace", h1, "--json"),
        ("trace", h1, "--as-of", at(12), "--json"),
        ("trace", h2, "--json"),
        ("gaps", "--json"),
        ("gaps", "--since", at(120), "--json"),
        ("replay", "--until", at(3), "--json"),
        ("replay", "--until", at(12), "--view", "queues", "--view", "agents", "--json"),
        ("replay", "--until", at(-60), "--json"),  # before anything happened
        ("digest", "--since", at(0), "--json"),
        ("digest", "--since", at(60), "--for", "human:me", "--json"),
        ("digest", "--since", at(600), "--json", 2),  # a window in the future
        ("agents", "list", "--json"),
        ("audit", "verify", "--json"),
        ("audit", "verify", h1, "--json"),
        ("audit", "verify", UNKNOWN, "--json", 2),
        ("export",),
        ("export", "--chain", h1),
    )
    run.json("projections", "rebuild", "queues")
    run.json("projections", "status")
    check(face)


# ------------------------------------------------------------------ the HTTP face


@dataclass
class Api:
    """Requests to a ``handoff serve``, each recorded with status, type and body."""

    url: str
    tokens: dict[str, str]
    face: Face
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    def __call__(
        self,
        agent: str | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request as ``agent`` (its token; None: no token), recorded."""
        sent = dict(headers or {})
        if agent is not None:
            sent["Authorization"] = f"Bearer {self.tokens.get(agent, agent)}"
        if content is not None:
            sent.setdefault("content-type", "application/json")
        answer = self.client.request(method, path, json=body, content=content, headers=sent or None)
        request = f"{method} {path} as {agent or 'nobody'}"
        if body is not None:
            request += " " + json.dumps(body, ensure_ascii=False)
        if content is not None:
            request += f" (body {len(content)} bytes: {content[:40].decode('utf-8', 'replace')})"
        request += "".join(f" [{k}: {v}]" for k, v in (headers or {}).items())
        recorded: dict[str, Any] = {
            "status": answer.status_code,
            "type": answer.headers.get("content-type"),
        }
        if "location" in answer.headers:
            recorded["location"] = answer.headers["location"]
        recorded["body"] = answer.content.decode("utf-8")
        self.face.record(request, rows_by_text=path.startswith("/replay"), **recorded)
        return answer

    def stream(self, agent: str, path: str, frames: int) -> None:
        """The first ``frames`` frames of a server-sent events stream, as sent."""
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
        with self.client.stream("GET", path, headers=headers, timeout=10) as answer:
            body = first_frames(answer, frames)
            status, kind = answer.status_code, answer.headers.get("content-type")
        self.face.record(
            f"GET {path} as {agent} (the first {frames} frames)",
            status=status,
            type=kind,
            body=body,
        )


FRAME_END = re.compile(r"\r\n\r\n|\n\n|\r\r")


def first_frames(answer: httpx.Response, frames: int) -> str:
    """The text of a stream's first ``frames`` frames (a chunk may hold more)."""
    text = ""
    for chunk in answer.iter_raw():
        text += chunk.decode("utf-8")
        ends = list(FRAME_END.finditer(text))
        if len(ends) >= frames:
            return text[: ends[frames - 1].end()]
    raise AssertionError(f"the stream ended after {len(FRAME_END.findall(text))} frames")


@dataclass
class Served:
    """The HTTP face's server, after its scenario ran."""

    url: str
    tokens: dict[str, str]
    ids: dict[str, str]
    http: Face
    openapi: bytes


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real ``handoff serve`` on its own store, the HTTP face's scenario run on it."""
    tmp = tmp_path_factory.mktemp("http")
    cli = clocked_cli(tmp / "store")
    (cli.cwd / "handoff.toml").write_text(PROTOCOL, encoding="utf-8")
    cli.run("protocol", "apply", "handoff.toml")
    agents = ("inbox_monitor", "code_agent", "support_agent", "backup_agent")
    tokens = cli.issue_tokens(*agents, admins=("human:me",))
    process, url = start_server(cli)
    try:
        port = url.rsplit(":", 1)[1]
        face = Face("http", Normalizer(literals={f"127.0.0.1:{port}": "127.0.0.1:<port>"}))
        api = Api(url, tokens, face)
        ids = http_scenario(api, cli)
        openapi = api.client.get("/openapi.json").content
        yield Served(url=url, tokens=tokens, ids=ids, http=face, openapi=openapi)
        api.client.close()
    finally:
        stop(process)


def http_scenario(api: Api, cli: CLI) -> dict[str, str]:
    """Every route of the OpenAPI document, and the errors; returns the handoffs' ids."""
    api(None, "GET", "/healthz")
    tick(cli)
    bug = {"kind": "bug_report", "payload": BUG}
    h1 = api("inbox_monitor", "POST", "/handoffs", bug, headers={"Idempotency-Key": "msg_123"})
    h1_id = h1.json()["id"]
    tick(cli)
    api("inbox_monitor", "POST", "/handoffs", bug, headers={"Idempotency-Key": "msg_123"})
    tick(cli)
    free = {
        "to": "support_agent", "trigger": "Refund request", "priority": "high",
        "payload": {"order": 42}, "ack_within": "30m", "deadline": "2h",
        "escalate_to": ["human:me"], "key": "order-42",
    }  # fmt: skip
    h2_id = api("inbox_monitor", "POST", "/handoffs", free).json()["id"]
    tick(cli)
    h3_id = api("support_agent", "POST", "/handoffs", {"to": "code_agent"}).json()["id"]
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h1_id}/ack", {"eta": "2h", "next_update": "30m"})
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h1_id}/ack")  # no body: FastAPI's own path
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h3_id}/ack", {"next_update": "15m"})
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h1_id}/status",
        {"status": "stuck", "message": "Cannot reproduce", "next_update": "1h"})  # fmt: skip
    tick(cli)
    api("support_agent", "POST", f"/handoffs/{h1_id}/notes", {"message": "Happens on iOS 18"})
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h1_id}/status", {"status": "progress"})
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h1_id}/complete",
        {"result": {"reply": "Fixed in 2.3.1", "fix": "PR #412"}})  # fmt: skip
    tick(cli)
    h4_id = api("inbox_monitor", "POST", "/handoffs", {"to": "code_agent"}).json()["id"]
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h4_id}/decline", {"reason": "not a bug"})
    tick(cli)
    h5_id = api("inbox_monitor", "POST", "/handoffs", {"to": "support_agent"}).json()["id"]
    tick(cli)
    api("human:me", "POST", f"/handoffs/{h5_id}/cancel", {"reason": "an admin cancels"})
    tick(cli)
    api("inbox_monitor", "POST", f"/handoffs/{h2_id}/reassign",
        {"to": "backup_agent", "reason": "support_agent is away"})  # fmt: skip
    tick(cli)
    flaky = {"to": "code_agent", "trigger": "Flaky test", "escalate_to": ["human:me"]}
    h6_id = api("inbox_monitor", "POST", "/handoffs", flaky).json()["id"]
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h6_id}/status",
        {"status": "need_help", "message": "Which runner?"})  # fmt: skip
    tick(cli)
    api("human:me", "POST", f"/handoffs/{h6_id}/reply",
        {"message": "Use runner 2", "data": {"runner": 2}})  # fmt: skip
    tick(cli)
    api("code_agent", "POST", f"/handoffs/{h6_id}/fail",
        {"reason": "runner 2 is down too", "result": {"tried": [1, 2]}})  # fmt: skip

    # Errors: 401, 403, 404, 405, 409, 413, 422.
    api(None, "POST", f"/handoffs/{h3_id}/complete", {})
    api("hl_not-a-token-at-all", "GET", f"/handoffs/{h1_id}")
    api("support_agent", "POST", f"/handoffs/{h3_id}/ack", {})
    api("support_agent", "GET", "/agents/code_agent/notifications")
    api("inbox_monitor", "GET", f"/handoffs/{UNKNOWN}")
    api("inbox_monitor", "GET", "/handoffs/not-a-uuid")
    api("inbox_monitor", "GET", "/no/such/route")
    api("inbox_monitor", "DELETE", f"/handoffs/{h1_id}")
    api("code_agent", "POST", f"/handoffs/{h1_id}/complete", {})
    api("code_agent", "POST", f"/handoffs/{h4_id}/complete")  # no body: FastAPI's own path
    api("inbox_monitor", "POST", "/handoffs", {"to": "code_agent", "ack_within": "soon"})
    api("inbox_monitor", "POST", "/handoffs", {"to": "code_agent", "ack_whithin": "1h"})
    api("inbox_monitor", "POST", "/handoffs", {"to": "code_agent", "priority": "urgent"})
    api("inbox_monitor", "POST", "/handoffs", {"kind": "bug_report", "payload": {"x": 1}})
    api("inbox_monitor", "POST", "/handoffs", {"to": "ghost"})
    api("inbox_monitor", "POST", "/handoffs", content=b"{oops")
    api("inbox_monitor", "POST", "/handoffs", content=b'{"to": "x", "payload": "' + b"x" * 1_100_000 + b'"}')  # fmt: skip
    api("code_agent", "POST", f"/handoffs/{h3_id}/decline", {})
    api("code_agent", "POST", f"/handoffs/{h3_id}/reply", {"message": "to myself"})
    api("inbox_monitor", "POST", f"/handoffs/{h6_id}/reply", {"message": "too late"})
    api("code_agent", "POST", f"/handoffs/{h3_id}/fail", {})
    api("inbox_monitor", "GET", "/log?since=yesterday")
    api("inbox_monitor", "GET", "/replay")

    # Time passes; a reactor (not a face of its own here) fires timers and follow-ups.
    set_clock(cli, 105)
    cli.run("reactor", "--once")
    set_clock(cli, 180)
    cli.run("reactor", "--once")

    # The reads.
    api(None, "GET", "/healthz")
    api("inbox_monitor", "GET", f"/handoffs/{h1_id}")
    api("inbox_monitor", "GET", f"/handoffs/{h1_id}?as_of={at(7)}")
    api("code_agent", "GET", "/agents/code_agent/inbox")
    api("code_agent", "GET", f"/agents/code_agent/inbox?as_of={at(5)}&limit=1")
    api("inbox_monitor", "GET", "/agents/inbox_monitor/inbox")
    api("human:me", "GET", "/overdue")
    api("human:me", "GET", f"/overdue?as_of={at(60)}")
    api("inbox_monitor", "GET", f"/chains/{h1_id}")
    api("inbox_monitor", "GET", f"/chains/{h1_id}?as_of={at(8)}")
    api("inbox_monitor", "GET", f"/chains/{h2_id}")
    page = api("inbox_monitor", "GET", "/log?limit=3").json()
    api("inbox_monitor", "GET", f"/log?since={page['next']}&limit=5")
    api("inbox_monitor", "GET", f"/log?since={at(8)}&until={at(10)}")
    feed = api("inbox_monitor", "GET", "/agents/inbox_monitor/notifications").json()
    api("inbox_monitor", "GET", f"/agents/inbox_monitor/notifications?since={feed['next'] - 1}")
    api("human:me", "GET", "/agents/support_agent/notifications?limit=2")
    api("human:me", "GET", "/projections")
    api("human:me", "GET", "/gaps")
    api("human:me", "GET", f"/gaps?since={at(150)}")
    api("human:me", "GET", f"/replay?until={at(3)}")
    api("human:me", "GET", f"/replay?until={at(9)}&view=timers")
    api("human:me", "GET", "/replay?until=soon")
    api("human:me", "GET", "/audit")
    api("human:me", "GET", f"/audit?id={h1_id}")
    api("human:me", "GET", "/export")
    api("human:me", "GET", f"/export?chain={h1_id}&since={at(8)}")
    api("human:me", "GET", f"/export?chain={UNKNOWN}")
    api.stream("human:me", "/log/stream?since=3", 1 + 4)
    api.stream("inbox_monitor", "/agents/inbox_monitor/notifications/stream", 1 + 2)
    # Taking work (issue 18): last, so the reads above are as they were.
    api("inbox_monitor", "POST", "/handoffs", {"to": "support_agent", "trigger": "Take me"})
    api("support_agent", "GET", "/agents/support_agent/next?worker=w1&next_update=10m")
    api("support_agent", "GET", "/agents/support_agent/next?worker=w1")
    api("support_agent", "GET", "/agents/code_agent/next")
    api("support_agent", "GET", "/agents/support_agent/next?wait=2h")
    # What if (issue 26): the protocol in force replayed over the whole log, admins only.
    what_if = {"protocol": PROTOCOL, "since": at(0)}
    api("human:me", "POST", "/protocol/simulate", what_if)
    api("inbox_monitor", "POST", "/protocol/simulate", what_if)
    return {"h1": h1_id, "h2": h2_id, "h3": h3_id, "h6": h6_id}


def test_http_face(served: Served) -> None:
    """Every route of the OpenAPI document answers as it did, and the document is the same."""
    routes = {
        (
            method.upper(),
            re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + r"(\?.*)?"),
        )
        for path, methods in json.loads(served.openapi)["paths"].items()
        for method in methods
    }
    asked = [r["request"].split(" ", 2)[:2] for r in served.http.recordings]
    missed = [
        f"{method} {pattern.pattern}"
        for method, pattern in routes
        if not any(m == method and pattern.fullmatch(p) for m, p in asked)
    ]
    assert not missed, f"routes of the OpenAPI document no request covers: {missed}"
    check_bytes("openapi.json", served.openapi)
    check(served.http)


# ------------------------------------------------------------------ the dashboard


def test_dashboard_face(served: Served) -> None:
    """The dashboard over the HTTP face's store: pages, fragments, sign-in, assets, rows."""
    face = Face(
        "dashboard",
        Normalizer(literals={served.url: "http://127.0.0.1:<port>"}, short_ids=True),
    )
    api = Api(served.url, served.tokens, face)
    h1 = served.ids["h1"]
    try:
        api("human:me", "GET", "/dashboard")
        api("human:me", "GET", "/dashboard/")
        api("human:me", "GET", "/dashboard/partials/overview")
        api("human:me", "GET", f"/dashboard/partials/overview?as_of={at(10)}")
        api("human:me", "GET", "/dashboard/agents/code_agent")
        api("human:me", "GET", "/dashboard/partials/agents/human%3Ame")
        api("human:me", "GET", f"/dashboard/chains/{h1}")
        api("human:me", "GET", f"/dashboard/partials/chains/{h1}?as_of={at(8)}")
        api("human:me", "GET", f"/dashboard/chains/{served.ids['h6']}")  # failed, replied
        api("human:me", "GET", f"/dashboard/chains/{UNKNOWN}")
        api("human:me", "GET", "/dashboard/partials/chains/not-a-uuid")
        api("human:me", "GET", f"/dashboard/find?id={h1}")
        api(None, "GET", "/dashboard/")
        api(None, "GET", "/dashboard/partials/overview")  # the dashboard's one JSON answer
        api(None, "GET", "/dashboard/login?next=%2Fdashboard%2Fagents%2Fcode_agent")
        form = {"content-type": "application/x-www-form-urlencoded"}
        secret = served.tokens["human:me"]
        api(None, "POST", "/dashboard/login", content=b"token=hl_wrong&next=/dashboard/",
            headers=form)  # fmt: skip
        login = f"token={secret}&next=/dashboard/chains/{h1}".encode()
        api(None, "POST", "/dashboard/login", content=login, headers=form)
        api(None, "POST", "/dashboard/logout")
        for asset in ("dashboard.js", "dashboard.css"):
            answer = api.client.get(f"/dashboard/static/{asset}")
            face.record(
                f"GET /dashboard/static/{asset} as nobody",
                status=answer.status_code,
                type=answer.headers.get("content-type"),
                as_is={"sha256": hashlib.sha256(answer.content).hexdigest()},
                bytes=len(answer.content),
            )
        api.stream("human:me", "/dashboard/stream?since=20", 1 + 2)
    finally:
        api.client.close()
    check(face)


# ------------------------------------------------------------------ the MCP face


class Stdio:
    """``handoff mcp --agent NAME`` spoken to as an MCP host does: JSON-RPC, a line each."""

    def __init__(self, cli: CLI, agent: str, errors: Path) -> None:
        self.agent = agent
        self.errors = errors
        self.errlog = errors.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [HANDOFF, "mcp", "--agent", agent],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
            env=cli.env(),
            cwd=cli.cwd,
            text=True,
            encoding="utf-8",
        )
        self.last_id = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> str:
        """The server's answer to one request: the line it wrote, as written."""
        self.last_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.last_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            assert line, (
                f"handoff mcp --agent {self.agent} closed stdout: {self.errors.read_text()}"
            )
            if json.loads(line).get("id") == self.last_id:
                return line.removesuffix("\n")

    def close(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.errlog.close()
        assert "Traceback" not in self.errors.read_text(encoding="utf-8")


INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "face-snapshots", "version": "1"},
}


def test_mcp_face(tmp_path: Path) -> None:
    """Two agents' MCP servers over stdio, every tool and its errors; then ``/mcp``."""
    cli = clocked_cli(tmp_path / "mcp")
    face = Face("mcp")
    errors = tmp_path / "mcp.err"
    tokens = cli.issue_tokens("inbox_monitor", "code_agent")  # for /mcp (creates the store)
    servers = {agent: Stdio(cli, agent, errors) for agent in ("inbox_monitor", "code_agent")}
    process: subprocess.Popen[str] | None = None

    def rpc(agent: str, method: str, params: dict[str, Any] | None = None) -> Any:
        line = servers[agent].request(method, params)
        shown = "" if params is None else " " + json.dumps(params, ensure_ascii=False)
        face.record(f"stdio {agent}: {method}{shown}", body=line)
        return json.loads(line)

    def tool(agent: str, name: str, **arguments: Any) -> Any:
        answer = rpc(agent, "tools/call", {"name": name, "arguments": arguments})
        return answer["result"].get("structuredContent")

    try:
        process, url = start_server(cli)  # while the two stdio servers start
        for server in servers.values():
            rpc(server.agent, "initialize", INITIALIZE)
            server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        rpc("inbox_monitor", "tools/list")
        rpc("inbox_monitor", "ping")

        sent = tool("inbox_monitor", "send_handoff", to="code_agent", trigger="Bug report detected",
                    priority="medium", payload=BUG, ack_within="1h", deadline="4h",
                    escalate_to=["human:me"], key="msg_123")  # fmt: skip
        h1 = sent["id"]
        tick(cli)
        tool("inbox_monitor", "send_handoff", to="code_agent", key="msg_123")  # the first again
        tick(cli)
        h2 = tool("inbox_monitor", "send_handoff", to="code_agent", priority="low",
                  payload='{"as": "JSON text"}')["id"]  # fmt: skip
        tick(cli)
        tool("code_agent", "my_inbox")
        tool("code_agent", "my_inbox", limit=1)
        tool("code_agent", "ack_handoff", id=h1, eta="2h", next_update="30m")
        tick(cli)
        tool("code_agent", "ack_handoff", id=h1)  # again: the first ack
        tick(cli)
        tool("code_agent", "report_status", id=h1, status="progress", message="Reproduced",
             next_update="1h30m")  # fmt: skip
        tick(cli)
        tool("code_agent", "complete_handoff", id=h1, result={"fix": "z-index"})
        tick(cli)
        tool("code_agent", "decline_handoff", id=h2, reason="not mine")
        tick(cli)
        tool("inbox_monitor", "get_handoff", id=h1)
        tool("inbox_monitor", "get_handoff", id=h1, as_of=at(2))
        tool("code_agent", "trace_chain", id=h1)
        tool("code_agent", "trace_chain", id=h1, as_of=at(3))
        page = tool("inbox_monitor", "read_log", limit=2)
        tool("inbox_monitor", "read_log", since=page["next"])
        tool("inbox_monitor", "read_log", since=at(4), until=at(6))
        feed = tool("inbox_monitor", "my_notifications")
        tool("inbox_monitor", "my_notifications", since=feed["next"] - 1, limit=1)

        # A blocked receiver answered, then a dead end (after the reads: they stay as they were).
        tick(cli)
        h3 = tool("inbox_monitor", "send_handoff", to="code_agent", trigger="Flaky test")["id"]
        tick(cli)
        tool("code_agent", "report_status", id=h3, status="need_help", message="Which runner?")
        tool("code_agent", "reply_to_handoff", id=h3, message="to myself")  # the receiver: refused
        tick(cli)
        tool("inbox_monitor", "reply_to_handoff", id=h3, message="Use runner 2",
             data={"runner": 2})  # fmt: skip
        tick(cli)
        tool("code_agent", "fail_handoff", id=h3, reason="runner 2 is down too",
             result={"tried": [1, 2]})  # fmt: skip

        # Tool errors (is_error, the CLI's error document) and protocol errors.
        tool("inbox_monitor", "complete_handoff", id=h1)
        tool("code_agent", "complete_handoff", id=h1)
        tool("code_agent", "ack_handoff", id=h2, next_update="soon")
        tool("code_agent", "ack_handoff", id=h2, ack_whithin="1h")
        tool("code_agent", "report_status", id=h2)
        tool("code_agent", "report_status", id=h2, status="sleepy")
        tool("code_agent", "decline_handoff", id="not-a-uuid", reason="no")
        tool("inbox_monitor", "reply_to_handoff", id=h3, message="too late")
        tool("inbox_monitor", "fail_handoff", id=h3)
        tool("code_agent", "get_handoff", id=UNKNOWN)
        tool("inbox_monitor", "read_log", since=-1)
        rpc("code_agent", "tools/call", {"name": "delete_handoff", "arguments": {"id": h1}})
        rpc("code_agent", "no/such/method")

        # The same tools over streamable HTTP, at /mcp of handoff serve.
        with httpx.Client(base_url=url, timeout=30) as http:

            def post(agent: str | None, message: dict[str, Any]) -> None:
                headers = {"Accept": "application/json, text/event-stream"}
                if agent is not None:
                    headers["Authorization"] = f"Bearer {tokens[agent]}"
                answer = http.post("/mcp", json=message, headers=headers)
                face.record(
                    f"POST /mcp as {agent or 'nobody'} {json.dumps(message, ensure_ascii=False)}",
                    status=answer.status_code,
                    type=answer.headers.get("content-type"),
                    body=answer.content.decode("utf-8"),
                )

            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
            post("code_agent", init)
            post("code_agent", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            call = {"name": "my_inbox", "arguments": {}}
            post("code_agent", {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call})
            post(None, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"})

        # Taking work, and the sender's moves (issue 18; after everything above, which stays).
        tick(cli)
        h4 = tool("inbox_monitor", "send_handoff", to="code_agent", trigger="Take me")["id"]
        tick(cli)
        h5 = tool("inbox_monitor", "send_handoff", to="code_agent", trigger="Then me")["id"]
        tick(cli)
        tool("code_agent", "wait_for_handoff", eta="1h", next_update="10m")
        tool("code_agent", "wait_for_handoff")  # its own unfinished one again: resumed
        tick(cli)
        tool("code_agent", "complete_handoff", id=h4, result={"done": True})
        tick(cli)
        tool("code_agent", "wait_for_handoff", worker="w2", wait="2s")
        tool("code_agent", "wait_for_handoff")  # nothing left: {"taken": null}
        tool("code_agent", "wait_for_handoff", wait="31s")
        tool("code_agent", "wait_for_handoff", worker="two words")
        tick(cli)
        tool("code_agent", "add_note", id=h5, message="customer called again")
        tool("code_agent", "cancel_handoff", id=h5, reason="mine now")  # the receiver: refused
        tool("code_agent", "reassign_handoff", id=h5, to="support_agent", reason="theirs")
        tick(cli)
        tool("inbox_monitor", "reassign_handoff", id=h5, to="support_agent", reason="theirs")
        tick(cli)
        tool("inbox_monitor", "cancel_handoff", id=h5, reason="solved by the customer")
        tool("inbox_monitor", "cancel_handoff", id=h5, reason="twice")
        tool("inbox_monitor", "add_note", id=h4, message="")
    finally:
        for server in servers.values():
            server.close()
        if process is not None:
            stop(process)
    listed = json.loads(face.recordings[2]["body"])["result"]["tools"]
    called = {
        m[1]
        for r in face.recordings
        if (m := re.search(r'tools/call \{"name": "(\w+)"', r["request"]))
    }
    assert {t["name"] for t in listed} <= called, "every tool is called at least once"
    check(face)
