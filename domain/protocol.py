"""The protocol file (``handoff.toml``): agents, kinds, routes, escalations, follow-ups.

A protocol is parsed and checked here, from text, with no I/O, so that a file is
refused with its line and reason before anything is stored, and so that every
process that loads the stored text gets exactly the same rules. Payload and result
schemas are JSON Schema (draft 2020-12); the shorthand ``payload.required = [...]``
is itself a JSON Schema, read as an object with those required fields.

Why this module is long (over 400 lines): the model and its parser are one reading of
one file format; the parser's helpers (locating a key's line, naming the allowed
keys) serve every section, and split in two the halves would import each other.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from handoff_ledger.domain.durations import parse_duration
from handoff_ledger.domain.errors import (
    InvalidInput,
    PayloadInvalid,
    ProtocolInvalid,
    UnknownAgent,
    UnknownKind,
)
from handoff_ledger.domain.priorities import Priority
from handoff_ledger.domain.rules import require_agent_name
from handoff_ledger.domain.timers import EscalationReason

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["Action", "AgentSpec", "EscalationLevel", "FollowUp", "KindSpec", "Protocol"]

_TOP_KEYS = {"agents", "kinds", "name", "description", "escalation", "allow_private_webhooks"}
_AGENT_KEYS = {"webhook", "admin", "description", "a2a", "a2a_token_env"}
_KIND_KEYS = {
    "description",
    "trigger",
    "to",
    "priority",
    "ack_within",
    "deadline",
    "update_every",
    "escalate_to",
    "escalation",
    "payload",
    "result",
    "on_complete",
    "on_decline",
    "on_fail",
}
_LEVEL_KEYS = {"on", "after", "notify", "action", "to", "every"}
_FOLLOW_UP_KEYS = {"kind", "to", "priority", "payload"}


@dataclass(frozen=True)
class AgentSpec:
    """A declared agent; ``webhook`` gets broadcasts pushed, ``admin`` may cancel/reassign.

    ``a2a``: the agent is a remote A2A agent at this URL (its agent card, or its base
    URL); its handoffs are delivered by ``handoff a2a-bridge``. ``a2a_token_env``
    names the environment variable holding the bearer token to send it (the file
    never holds the secret itself).
    """

    name: str
    webhook: str | None = None
    admin: bool = False
    a2a: str | None = None
    a2a_token_env: str | None = None


class Action(StrEnum):
    """What an escalation level does besides notifying its targets."""

    NOTIFY = "notify"
    """Notify the targets once."""
    RENOTIFY = "renotify"
    """Notify them again ``every`` so often until the promise is kept."""
    REASSIGN = "reassign"
    """Notify them and hand the work to the backup ``to``."""


_ACTIONS = {action.value for action in Action}


@dataclass(frozen=True)
class EscalationLevel:
    """One level of an escalation policy: when it fires, whom it tells, what it does."""

    on: EscalationReason | None
    after: timedelta | None
    notify: tuple[str, ...]
    action: Action = Action.NOTIFY
    to: str | None = None
    every: timedelta | None = None


@dataclass(frozen=True)
class FollowUp:
    """When this completes (or is declined, or fails), hand off ``kind`` to ``to``."""

    kind: str
    to: str | None
    priority: Priority | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KindSpec:
    """A kind of handoff: its default route, timers, schemas and follow-ups."""

    name: str
    trigger: str | None = None
    to: str | None = None
    priority: Priority | None = None
    ack_within: timedelta | None = None
    deadline: timedelta | None = None
    update_every: timedelta | None = None
    escalate_to: tuple[str, ...] = ()
    escalation: tuple[EscalationLevel, ...] = ()
    payload_schema: dict[str, Any] | None = None
    result_schema: dict[str, Any] | None = None
    on_complete: FollowUp | None = None
    on_decline: FollowUp | None = None
    on_fail: FollowUp | None = None

    def validate_payload(self, payload: dict[str, Any]) -> None:
        """Raise :class:`PayloadInvalid` naming the first field that fails the schema."""
        _validate(self.payload_schema, payload, "payload", self.name)

    def validate_result(self, result: dict[str, Any] | None) -> None:
        """Raise :class:`PayloadInvalid` naming the first result field that fails."""
        if self.result_schema is not None:
            _validate(self.result_schema, result if result is not None else {}, "result", self.name)


@dataclass(frozen=True)
class Protocol:
    """A whole protocol file, checked: what agents exist and what kinds they exchange."""

    agents: dict[str, AgentSpec]
    kinds: dict[str, KindSpec]
    name: str | None = None
    escalation: tuple[EscalationLevel, ...] = ()
    """The default policy: for kinds without their own, and free-form handoffs."""
    allow_private_webhooks: bool = False
    """Deliver webhooks to loopback, link-local and private addresses too (off by
    default, so an agent's URL cannot make the reactor call internal services; a
    version stored before this key existed reads as off)."""

    @classmethod
    def parse(cls, text: str, source: str = "handoff.toml") -> Protocol:
        """Parse and check a protocol file; raise :class:`ProtocolInvalid` with the line."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = _line_from_toml_error(str(exc))
            raise ProtocolInvalid(f"{source}:{line}: not valid TOML: {exc}", line) from None
        return _Parser(text, source).protocol(doc)

    def agent(self, name: str, field_name: str) -> AgentSpec:
        """The declared agent, or :class:`UnknownAgent` naming the field."""
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise UnknownAgent(
                f"{field_name}: agent {name!r} is not declared by the protocol in force "
                f"(declared: {known})"
            ) from None

    def kind(self, name: str) -> KindSpec:
        """The declared kind, or :class:`UnknownKind` naming it."""
        try:
            return self.kinds[name]
        except KeyError:
            known = ", ".join(sorted(self.kinds)) or "none"
            raise UnknownKind(
                f"kind: {name!r} is not declared by the protocol in force (declared: {known})"
            ) from None

    def escalation_levels(self, kind: str | None) -> tuple[EscalationLevel, ...]:
        """The escalation levels for ``kind``: its own, else the protocol's default."""
        spec = self.kinds.get(kind) if kind is not None else None
        if spec is not None and spec.escalation:
            return spec.escalation
        return self.escalation

    def is_admin(self, name: str) -> bool:
        """True for agents the protocol marks ``admin = true``."""
        spec = self.agents.get(name)
        return bool(spec and spec.admin)


def _validate(schema: dict[str, Any] | None, value: dict[str, Any], what: str, kind: str) -> None:
    if schema is None:
        return
    # Imported here, not at the top: jsonschema (with referencing and rpds) costs some
    # 60 ms to import, paid by every ``handoff`` process, and only kinds with schemas
    # need it.
    from jsonschema import Draft202012Validator

    errors = sorted(
        Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(value),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if not errors:
        return
    error: ValidationError = errors[0]
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [r for r in required if r not in error.instance]
        field_path = ".".join([what, *path, str(missing[0])])
        raise PayloadInvalid(f"{field_path}: required by kind {kind!r} but missing", field_path)
    field_path = ".".join([what, *path])
    raise PayloadInvalid(f"{field_path}: {error.message} (kind {kind!r})", field_path)


def _line_from_toml_error(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 0


class _Parser:
    """Turns a TOML document into a :class:`Protocol`, locating errors by line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def fail(self, path: list[str], reason: str) -> ProtocolInvalid:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else self.source
        return ProtocolInvalid(f"{where}: {'.'.join(path)}: {reason}", line)

    def line_of(self, path: list[str]) -> int:
        """Best-effort line of a dotted key: its table header, then the key in it."""
        if not path:
            return 0
        for index, line in enumerate(self.lines):
            if re.match(r"\s*\[", line):
                break
            if re.match(r"\s*" + _key_re(path[0]) + r"\s*[=.]", line):
                return index + 1
        for depth in range(len(path), 0, -1):
            names = r"\s*\.\s*".join(_key_re(p) for p in path[:depth])
            header = re.compile(r"\s*\[+\s*" + names + r"\s*[\].]")
            for index, line in enumerate(self.lines):
                if not header.match(line):
                    continue
                if depth == len(path):
                    return index + 1
                key = re.compile(r"\s*" + _key_re(path[depth]) + r"\s*[=.]")
                for offset, inner in enumerate(self.lines[index + 1 :], start=index + 2):
                    if re.match(r"\s*\[", inner):
                        break
                    if key.match(inner):
                        return offset
                return index + 1
        return 0

    def protocol(self, doc: dict[str, Any]) -> Protocol:
        for key in doc:
            if key not in _TOP_KEYS:
                raise self.fail([key], f"unknown section (expected one of {_names(_TOP_KEYS)})")
        agents = {name: self.agent(name, spec) for name, spec in _table(self, doc, "agents")}
        kinds = {name: self.kind(name, spec, agents) for name, spec in _table(self, doc, "kinds")}
        for kind in kinds.values():
            for event, follow_up in (
                ("on_complete", kind.on_complete),
                ("on_decline", kind.on_decline),
                ("on_fail", kind.on_fail),
            ):
                if follow_up is not None and follow_up.kind not in kinds:
                    raise self.fail(
                        ["kinds", kind.name, event, "kind"], f"unknown kind {follow_up.kind!r}"
                    )
        name = doc.get("name")
        allow_private = doc.get("allow_private_webhooks", False)
        if not isinstance(allow_private, bool):
            raise self.fail(["allow_private_webhooks"], "must be true or false")
        return Protocol(
            agents=agents,
            kinds=kinds,
            name=name if isinstance(name, str) else None,
            escalation=self.levels(["escalation"], doc.get("escalation", []), agents),
            allow_private_webhooks=allow_private,
        )

    def agent(self, name: str, spec: Any) -> AgentSpec:
        path = ["agents", name]
        self.check_agent_name(path, name)
        if not isinstance(spec, dict):
            raise self.fail(path, "must be a table")
        self.check_keys(path, spec, _AGENT_KEYS)
        webhook = spec.get("webhook")
        if webhook is not None and not (
            isinstance(webhook, str) and re.match(r"https?://", webhook)
        ):
            raise self.fail([*path, "webhook"], "must be an http:// or https:// URL")
        admin = spec.get("admin", False)
        if not isinstance(admin, bool):
            raise self.fail([*path, "admin"], "must be true or false")
        a2a = spec.get("a2a")
        if a2a is not None and not (isinstance(a2a, str) and re.match(r"https?://\S+$", a2a)):
            raise self.fail([*path, "a2a"], "must be an http:// or https:// URL")
        token_env = spec.get("a2a_token_env")
        if token_env is not None:
            if not (
                isinstance(token_env, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env)
            ):
                raise self.fail(
                    [*path, "a2a_token_env"], "must name an environment variable (A-Z, 0-9, _)"
                )
            if a2a is None:
                raise self.fail([*path, "a2a_token_env"], "needs a2a (the agent's URL)")
        return AgentSpec(name=name, webhook=webhook, admin=admin, a2a=a2a, a2a_token_env=token_env)

    def kind(self, name: str, spec: Any, agents: dict[str, AgentSpec]) -> KindSpec:
        path = ["kinds", name]
        if not isinstance(spec, dict):
            raise self.fail(path, "must be a table")
        self.check_keys(path, spec, _KIND_KEYS)
        to = self.agent_ref([*path, "to"], spec.get("to"), agents)
        escalate_to = self.agent_names([*path, "escalate_to"], spec.get("escalate_to", []), agents)
        trigger = spec.get("trigger")
        if trigger is not None and not isinstance(trigger, str):
            raise self.fail([*path, "trigger"], "must be a string")
        return KindSpec(
            name=name,
            trigger=trigger,
            to=to,
            priority=self.priority([*path, "priority"], spec.get("priority")),
            ack_within=self.duration([*path, "ack_within"], spec.get("ack_within")),
            deadline=self.duration([*path, "deadline"], spec.get("deadline")),
            update_every=self.duration([*path, "update_every"], spec.get("update_every")),
            escalate_to=escalate_to,
            escalation=self.levels([*path, "escalation"], spec.get("escalation", []), agents),
            payload_schema=self.schema([*path, "payload"], spec.get("payload")),
            result_schema=self.schema([*path, "result"], spec.get("result")),
            on_complete=self.follow_up([*path, "on_complete"], spec.get("on_complete"), agents),
            on_decline=self.follow_up([*path, "on_decline"], spec.get("on_decline"), agents),
            on_fail=self.follow_up([*path, "on_fail"], spec.get("on_fail"), agents),
        )

    def levels(
        self, path: list[str], value: Any, agents: dict[str, AgentSpec]
    ) -> tuple[EscalationLevel, ...]:
        """A policy: levels in order; ``on`` starts a reason's sequence, ``after`` extends it."""
        if not isinstance(value, list):
            raise self.fail(path, "must be an array of tables")
        levels = tuple(self.level(path, level, agents) for level in value)
        seen: set[EscalationReason] = set()
        for index, level in enumerate(levels):
            if level.on is None and index == 0:
                raise self.fail(path, "the first level needs `on` (which promise it follows)")
            if level.on is not None:
                if level.on in seen:
                    raise self.fail(path, f"two sequences start on {level.on.value!r}")
                seen.add(level.on)
        return levels

    def level(self, path: list[str], spec: Any, agents: dict[str, AgentSpec]) -> EscalationLevel:
        if not isinstance(spec, dict):
            raise self.fail(
                path, 'each level must be a table such as { on = "ack_timeout", notify = [...] }'
            )
        self.check_keys(path, spec, _LEVEL_KEYS)
        on = spec.get("on")
        reason: EscalationReason | None = None
        if on is not None:
            try:
                reason = EscalationReason(on)
            except ValueError:
                allowed = "ack_timeout, update_overdue, deadline_missed"
                raise self.fail([*path, "on"], f"{on!r} is not one of {allowed}") from None
        after = self.duration([*path, "after"], spec.get("after"))
        if (reason is None) == (after is None):
            raise self.fail(path, "each level needs exactly one of `on` or `after`")
        named = spec.get("action", Action.NOTIFY.value)
        if named not in _ACTIONS:
            raise self.fail([*path, "action"], f"{named!r} is not one of {_names(_ACTIONS)}")
        action = Action(named)
        to = self.agent_ref([*path, "to"], spec.get("to"), agents)
        if action is Action.REASSIGN and to is None:
            raise self.fail([*path, "to"], "a reassign action needs `to`")
        every = self.duration([*path, "every"], spec.get("every"))
        if action is Action.RENOTIFY and every is None:
            raise self.fail([*path, "every"], "a renotify action needs `every`")
        notify = self.agent_names([*path, "notify"], spec.get("notify", []), agents)
        return EscalationLevel(
            on=reason,
            after=after,
            notify=notify,
            action=action,
            to=to,
            every=every,
        )

    def follow_up(
        self, path: list[str], spec: Any, agents: dict[str, AgentSpec]
    ) -> FollowUp | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise self.fail(path, 'must be a table such as { kind = "reply", to = "agent" }')
        self.check_keys(path, spec, _FOLLOW_UP_KEYS)
        kind = spec.get("kind")
        if not isinstance(kind, str):
            raise self.fail([*path, "kind"], "is required and must be a kind name")
        payload = spec.get("payload", {})
        if not isinstance(payload, dict):
            raise self.fail([*path, "payload"], "must be a table")
        return FollowUp(
            kind=kind,
            to=self.agent_ref([*path, "to"], spec.get("to"), agents),
            priority=self.priority([*path, "priority"], spec.get("priority")),
            payload=payload,
        )

    def agent_ref(self, path: list[str], name: Any, agents: dict[str, AgentSpec]) -> str | None:
        if name is None:
            return None
        if not isinstance(name, str):
            raise self.fail(path, "must be an agent name")
        if name not in agents:
            raise self.fail(path, f"agent {name!r} is not declared under [agents]")
        return name

    def agent_names(
        self, path: list[str], value: Any, agents: dict[str, AgentSpec]
    ) -> tuple[str, ...]:
        names = self.string_list(path, value)
        for name in names:
            if name not in agents:
                raise self.fail(path, f"agent {name!r} is not declared under [agents]")
        return tuple(names)

    def check_agent_name(self, path: list[str], name: str) -> None:
        try:
            require_agent_name(name, "agent")
        except InvalidInput as exc:
            raise self.fail(path, exc.message) from None

    def check_keys(self, path: list[str], spec: dict[str, Any], allowed: set[str]) -> None:
        for key in spec:
            if key not in allowed:
                raise self.fail([*path, key], f"unknown key (expected one of {_names(allowed)})")

    def string_list(self, path: list[str], value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "must be a list of agent names")
        return value

    def priority(self, path: list[str], value: Any) -> Priority | None:
        if value is None:
            return None
        try:
            return Priority.parse(str(value))
        except InvalidInput as exc:
            raise self.fail(path, exc.message.split(": ", 1)[1]) from None

    def duration(self, path: list[str], value: Any) -> timedelta | None:
        if value is None:
            return None
        try:
            return parse_duration(str(value), name=path[-1])
        except InvalidInput as exc:
            raise self.fail(path, exc.message.split(": ", 1)[1]) from None

    def schema(self, path: list[str], value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(path, 'must be a JSON Schema table, e.g. payload.required = ["id"]')
        schema = {"type": "object", **value}
        from jsonschema import Draft202012Validator  # see _validate: imported when needed
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise self.fail(path, f"not a valid JSON Schema: {exc.message}") from None
        return schema


def _table(parser: _Parser, doc: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise parser.fail([key], "must be a table")
    return list(value.items())


def _key_re(name: str) -> str:
    escaped = re.escape(name)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


def _names(keys: set[str]) -> str:
    return ", ".join(sorted(keys))
