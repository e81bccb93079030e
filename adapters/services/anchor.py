"""Signed checkpoints of the log, kept outside the database: ``audit anchor``.

A hash chain proves each handoff's history consistent with itself, not that it is
the history that was there yesterday: whoever can write the database can recompute
a chain, cut a tail (and fix the views' row), wipe everything, or slip in a token.
An anchor, as in Certificate Transparency, is the log's head signed with a key the
database does not hold, kept somewhere the database writer cannot reach (a file on
another machine, an object store, a URL). ``audit verify --anchor`` then proves the
log still extends it: every record at or before the anchor's position is as it was.

The head, at log position ``position``, is four SHA-256 digests, each over lines
sorted by record id then version, of the records at or before that position:

- ``chains``: one line per handoff, its last event: ``id version position hash``
  (the event's chain hash; for an event recorded before hash chains, the SHA-256 of
  its stored bytes). A recomputed chain, a removed, altered or inserted event, a cut
  tail, a handoff removed or added all change it.
- ``tokens``: one line per token record (issue or revocation):
  ``id version position sha256(stored bytes)``.
- ``protocol``: the same for every protocol version applied.
- ``other``: the same for every other record (chain watches, guard incidents).

The document is signed with Ed25519 over its RFC 8785 canonical form. An anchor
covers what came before it, nothing after: records added later are for the next
anchor to cover.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eventsourcing.utils import get_topic

from handoff_ledger.adapters.ledger.application import HANDOFF_TOPICS, Ledger
from handoff_ledger.adapters.store.rows import stored_events
from handoff_ledger.domain.errors import InvalidInput
from handoff_ledger.domain.integrity import jcs
from handoff_ledger.domain.protocol_record import ProtocolRecord
from handoff_ledger.domain.tokens import AgentToken

__all__ = [
    "FORMAT",
    "AnchorCheck",
    "check_anchor",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "log_head",
    "take_anchor",
]

FORMAT = "handoff-ledger/anchor-v1"
_TOKEN_TOPICS = {get_topic(AgentToken.Issued), get_topic(AgentToken.Revoked)}
_PROTOCOL_TOPICS = {get_topic(ProtocolRecord.Created), get_topic(ProtocolRecord.Applied)}
PARTS = ("chains", "tokens", "protocol", "other")


def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM: (private key, PKCS 8; public key, SPKI)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (``audit keygen``, or ``openssl genpkey``)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"key: cannot read an Ed25519 private key from {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"key: {path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(
            f"public-key: cannot read an Ed25519 public key from {path}: {exc}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"public-key: {path} is not an Ed25519 public key")
    return key


def log_head(ledger: Ledger, position: int) -> dict[str, Any]:
    """The digests of every record at or before ``position`` (see the module's doc)."""
    lines: dict[str, list[str]] = {part: [] for part in PARTS}
    last: tuple[str, int, int, bytes] | None = None  # a handoff's last event so far
    counts = dict.fromkeys(PARTS, 0)
    for oid, version, topic, state, at in stored_events(ledger):
        if at > position:
            continue
        if topic in HANDOFF_TOPICS:
            counts["chains"] += 1
            if last is not None and last[0] != oid:
                lines["chains"].append(_chain_line(*last))
            last = (oid, version, at, state)
            continue
        part = (
            "tokens"
            if topic in _TOKEN_TOPICS
            else ("protocol" if topic in _PROTOCOL_TOPICS else "other")
        )
        counts[part] += 1
        lines[part].append(f"{oid} {version} {at} {hashlib.sha256(state).hexdigest()}")
    if last is not None:
        lines["chains"].append(_chain_line(*last))
    head: dict[str, Any] = {"position": position}
    for part in PARTS:
        head[part] = {"records": counts[part], "digest": _digest(sorted(lines[part]))}
    return head


def _chain_line(oid: str, version: int, at: int, state: bytes) -> str:
    try:
        chained = json.loads(state).get("hash")
    except (ValueError, AttributeError):
        chained = None
    return f"{oid} {version} {at} {chained or hashlib.sha256(state).hexdigest()}"


def _digest(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def take_anchor(ledger: Ledger, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The log's head now, signed: the document ``audit anchor`` writes."""
    position = ledger.head()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "taken_at": ledger.clock.now().isoformat().replace("+00:00", "Z"),
        **log_head(ledger, position),
        "public_key": base64.b64encode(public).decode(),
    }
    document["signature"] = base64.b64encode(key.sign(jcs(document))).decode()
    return document


@dataclass(frozen=True)
class AnchorCheck:
    """What one anchor says about the log today: each problem found, if any."""

    source: str
    position: int | None
    taken_at: str | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when the log still extends the anchor."""
        return not self.problems


def check_anchor(ledger: Ledger, source: str, document: Any, key: Ed25519PublicKey) -> AnchorCheck:
    """Check an anchor's signature with ``key``, then that the log still extends it."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return AnchorCheck(source, None, None, [f"{source}: not a {FORMAT} document"])
    position, taken_at = document.get("position"), document.get("taken_at")
    signed = {k: v for k, v in document.items() if k != "signature"}
    try:
        key.verify(base64.b64decode(str(document.get("signature", ""))), jcs(signed))
    except (InvalidSignature, ValueError, TypeError):
        return AnchorCheck(
            source,
            position,
            taken_at,
            [
                f"{source}: its signature does not verify with the public key given: the "
                "anchor was altered, or signed with another key"
            ],
        )
    if not isinstance(position, int):
        return AnchorCheck(source, None, taken_at, [f"{source}: no position"])
    now = log_head(ledger, position)
    problems = []
    end = ledger.head()
    if end < position:
        problems.append(
            f"the log ends at position {end}, before the anchor's position {position}: "
            "records were removed (the log was cut or wiped)"
        )
    for part, what in (
        ("chains", "handoff events (each handoff's last event at or before it)"),
        ("tokens", "token records"),
        ("protocol", "protocol records"),
        ("other", "other records (watches, guard incidents)"),
    ):
        was, is_ = document.get(part) or {}, now[part]
        if was != is_:
            problems.append(
                f"{what} at or before position {position} differ from the anchor's "
                f"({was.get('records')} records then, {is_['records']} now): one was "
                "removed, altered, recomputed or inserted"
            )
    return AnchorCheck(source, position, taken_at, problems)
