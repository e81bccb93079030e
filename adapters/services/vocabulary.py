"""The documents every face returns, named once: the ledger's JSON vocabulary.

The CLI prints these with ``--json``; the HTTP API, the MCP tools and the dashboard's
models return the same shapes, because they are all built in ``services/`` (the
builders in ``documents``, ``queries``, ``diagnosis``, ``digest``, ``audit``,
``export``) and typed here: a face passes them through, and its transport writes
each as a JSON object.

Times are ISO 8601 strings in UTC (``…Z``) or null; ids are UUID strings.

Two kinds of document are open-ended and typed as far as they are fixed:

- a **history or log entry** carries the event's own fields after its envelope, and
  those differ per event type (``docs/concepts.md`` lists them): the TypedDict names
  the envelope, the builder adds the rest;
- a **view row** (queue entries, overdue timers, chain members, notifications) is a
  view table's columns as JSON (``view_document``): :data:`Document`.

The HTTP API declares its responses as JSON objects (``/openapi.json`` is the
contract the snapshot and fuzz tests hold it to); these types are for the code that
builds and reads the documents. The CLI's small command answers (tokens, watch,
rebuild, a reactor pass) are built where they are printed, and typed here too.

Why this module is long (over 400 lines): it is a list of declarations, one small
TypedDict per document, with no logic; the point is that the whole vocabulary reads
in one place, and split by face it would name the shared documents twice.
"""

# No ``from __future__ import annotations`` here: TypedDict reads ``NotRequired`` only
# from evaluated annotations (Python 3.11), and the vocabulary test reads them too.

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

__all__ = [
    "AckDocument",
    "AgentsDocument",
    "AuditDocument",
    "AuditProblem",
    "BreakDocument",
    "BridgeDelivery",
    "BridgeError",
    "BridgeMove",
    "BridgeReplyPassed",
    "BridgeReport",
    "ChainDocument",
    "CliAckDocument",
    "DigestDocument",
    "Document",
    "ErrorBody",
    "ErrorDocument",
    "EscalatedEntry",
    "ExportEntry",
    "GapsChain",
    "GapsDocument",
    "GuardDocument",
    "HandoffDocument",
    "HealthDocument",
    "HistoryEntry",
    "InboxDocument",
    "LogEntry",
    "LogHorizon",
    "LogPage",
    "NextDocument",
    "NothingTaken",
    "NotificationsDocument",
    "OverdueDocument",
    "OverdueTimer",
    "PassedEntry",
    "ProjectionsDocument",
    "ProjectionsStatus",
    "PromiseAccuracy",
    "PromiseDay",
    "ProtocolDocument",
    "ReactorDelivery",
    "ReactorReport",
    "ReactorStep",
    "Rebuilt",
    "ReplayDocument",
    "Reply",
    "SentDocument",
    "ShowDocument",
    "SimulationDocument",
    "SimulationSummary",
    "SuggestedEta",
    "Timers",
    "TokenEntry",
    "TokenIssued",
    "TokenList",
    "TokensRevoked",
    "ViewStatusEntry",
    "Watching",
    "WebhookSecretEntry",
    "WebhookSecretList",
    "WebhookSecretSet",
    "WebhookSecretsRemoved",
    "WebhookStatus",
]

Document = dict[str, Any]
"""A JSON object whose keys are not fixed by the vocabulary (view rows, event fields)."""

Reply = Mapping[str, Any]
"""What a face hands its transport: any document of this module (read-only)."""


# ------------------------------------------------------------------ handoffs


class Timers(TypedDict):
    """The promises still watched, each its due time (all null once closed)."""

    ack_due: str | None
    update_due: str | None
    deadline: str | None


class OverdueTimer(TypedDict):
    """A broken promise: which timer, and when it fell due."""

    reason: str
    due: str | None


class HandoffDocument(TypedDict):
    """One handoff as it stands: identity, route, payload, state, timers."""

    id: str
    chain_id: str
    parent_id: str | None
    kind: str | None
    trigger: str | None
    sender: str
    receiver: str
    priority: str
    payload: dict[str, Any] | None
    state: str
    status: str | None
    status_message: str | None
    created_at: str | None
    acked_at: str | None
    eta: str | None
    closed_at: str | None
    result: Any
    reason: str | None
    ack_within: str | None
    update_every: str | None
    deadline: str | None
    timers: Timers
    escalate_to: list[str]
    escalations: int
    key: str | None
    protocol_version: int | None
    version: int
    updated_at: str | None
    unreadable: NotRequired[list[str]]
    """Only when ``payload`` or ``result`` nests too deep to show (recorded before the
    depth cap): the fields shown as null."""


class SentDocument(HandoffDocument):
    """``send``: the handoff, and whether its idempotency key was used before."""

    duplicate: bool


class AckDocument(HandoffDocument):
    """``ack``: the handoff, its queue position, ETA and next update due."""

    queue_position: int | None
    next_update_due: str | None
    already_acked: bool


class SuggestedEta(TypedDict):
    """An ETA ``ack`` suggests (never sets) from the agent's history of the kind."""

    eta: str
    seconds: int
    kind: str | None
    from_handoffs: int
    basis: str


class CliAckDocument(AckDocument):
    """``handoff ack --json``: the ack's document, and the ETA suggested when the
    receiver gave none (null when it gave one, or has too little history)."""

    suggested_eta: SuggestedEta | None


class NextDocument(HandoffDocument):
    """``next``: the handoff a worker now holds, how (``resumed``, ``taken``,
    ``taken_over``) and by which worker."""

    taken: str
    worker: str


class NothingTaken(TypedDict):
    """MCP ``wait_for_handoff`` when there was nothing to take (HTTP: 204; CLI: ``null``)."""

    taken: None


class HistoryEntry(TypedDict):
    """One event of a handoff's history; the event's own fields follow these."""

    at: str | None
    type: str
    handoff_id: str
    chain_id: str
    by: str
    version: int
    unreadable: NotRequired[str]
    """Only for an event too deep to show: why its own fields are left out."""


class LogEntry(HistoryEntry):
    """One line of ``log --json``: a history entry with its log position."""

    position: int


class ShowDocument(HandoffDocument):
    """``show``: the handoff, what is overdue, its whole history (as of a time)."""

    as_of: str | None
    overdue: list[OverdueTimer]
    history: list[HistoryEntry]


class LogPage(TypedDict):
    """``GET /log`` and MCP ``read_log``: a page of entries and the cursor to go on."""

    entries: list[LogEntry]
    next: int


class ExportEntry(TypedDict):
    """One line of ``export``: the event, its position, fields and hash-chain link."""

    position: int
    at: Any
    type: str
    handoff_id: str
    version: int
    chain_id: str
    by: str
    data: Any
    scheme: str | None
    prev_hash: str | None
    hash: str | None
    unreadable: NotRequired[str]
    """Only for an event too deep to show: ``data`` is null, and why."""


# ------------------------------------------------------------------ views


class InboxDocument(TypedDict):
    """``inbox``: an agent's queue, head first, each row with its position and timers."""

    agent: str
    as_of: str | None
    total: int
    handoffs: list[Document]


class OverdueDocument(TypedDict):
    """``overdue``: every armed timer past due at ``as_of``."""

    as_of: str | None
    overdue: list[Document]


class BreakDocument(TypedDict):
    """Where a chain broke: which handoff, what kind, whose move, which rule, since when."""

    handoff_id: str
    kind: str
    agent: str
    rule: str
    at: str | None
    message: str


class ChainDocument(TypedDict):
    """``trace``: a chain, oldest first, and where it broke."""

    chain_id: str
    as_of: str | None
    handoffs: list[Document]
    broken: bool
    breaks: list[BreakDocument]


class GapsRoot(TypedDict):
    """The handoff a broken chain started from."""

    id: str
    kind: str | None
    trigger: str | None
    sender: str
    receiver: str


class GapsChain(TypedDict):
    """One broken chain of ``gaps``."""

    chain_id: str
    root: GapsRoot
    handoffs: int
    first_break_at: str | None
    breaks: list[BreakDocument]


class GapsDocument(TypedDict):
    """``gaps``: every broken chain, earliest break first."""

    as_of: str | None
    since: str | None
    count: int
    chains: list[GapsChain]


class NotificationsDocument(TypedDict):
    """``notifications``: an agent's feed after a cursor, and the next cursor."""

    agent: str
    notifications: list[Document]
    next: int


class ReplayDocument(TypedDict):
    """``replay``: every view's rows as they stood at ``until``."""

    until: str | None
    position: int
    events: int
    views: dict[str, dict[str, list[Document]]]
    overdue: list[Document] | None


class ViewStatusEntry(TypedDict):
    """``projections status``: one view's position, the log's head, lag and versions."""

    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    version: int
    stored_version: int | None
    stale: bool


class LogHorizon(TypedDict):
    """PostgreSQL: how far the log's horizon holds readers back (docs/concepts.md#positions).

    ``readable``: the last position a reader may read now; ``events_waiting``: events
    committed above it (they wait for an older transaction to end);
    ``oldest_transaction_seconds``: the age of the oldest transaction holding a
    transaction id anywhere in the cluster (what holds the horizon), or null."""

    readable: int
    events_waiting: int
    oldest_transaction_seconds: float | None


class ProjectionsDocument(TypedDict):
    """``GET /projections``: every view's status, and the log's horizon (PostgreSQL)."""

    views: list[ViewStatusEntry]
    horizon: NotRequired[LogHorizon]


class WebhookStatus(TypedDict):
    """One agent's webhook deliveries: done, waiting, failing in a row, the next attempt."""

    agent: str
    delivered: int
    pending: int
    failing: int
    oldest_pending: int | None
    next_attempt: str | None
    last_error: str | None


class ProjectionsStatus(ProjectionsDocument):
    """``projections status --json``: every view's status and every webhook's."""

    webhooks: list[WebhookStatus]


# ------------------------------------------------------------------ digest


class PassedEntry(TypedDict):
    """What passed in a digest's window: one lifecycle step and what became of it."""

    type: str
    at: str | None
    id: str
    chain_id: str
    parent_id: str | None
    kind: str | None
    priority: str
    sender: str
    receiver: str
    from_receiver: str | None
    by: str
    reason: str | None
    state: str


class EscalatedEntry(TypedDict):
    """One escalation in a digest's window, and when (if) its promise was kept."""

    at: str | None
    id: str
    chain_id: str
    kind: str | None
    sender: str
    receiver: str
    reason: str
    level: int
    notified: list[str]
    timer_due: str | None
    by: str
    kept_at: str | None
    state: str


class DigestWindow(TypedDict):
    """A digest's window, both ends included."""

    since: str | None
    until: str | None


class PromiseDay(TypedDict):
    """One day (the 24 hours up to ``until``) of an agent's promises of a kind."""

    until: str | None
    counted: int
    kept: int
    kept_pct: float | None


class PromiseAccuracy(TypedDict):
    """How an agent kept its promises (``eta`` or ``update``) on handoffs of a kind
    (docs/concepts.md, "Promise accuracy")."""

    agent: str
    kind: str | None
    promise: str
    counted: int
    kept: int
    late: int
    broken: int
    kept_pct: float | None
    median_late_seconds: float | None
    p90_late_seconds: float | None
    last_7_days: NotRequired[list[PromiseDay]]
    """``agents list`` only: the last 7 days, oldest first."""


DigestDocument = TypedDict(
    "DigestDocument",
    {
        "window": DigestWindow,
        "for": str | None,
        "passed": list[PassedEntry],
        "escalated": list[EscalatedEntry],
        "waiting": Document,
        "promises": list[PromiseAccuracy],
        "counts": dict[str, int],
    },
)
"""``digest``: what passed, what escalated, what waits (``for`` is a keyword: functional form)."""


# ------------------------------------------------------------------ audit


class GuardDocument(TypedDict):
    """The append-only guard on the events table, as found."""

    table: str
    installed: bool
    enabled: bool
    detail: str


class AuditProblem(TypedDict):
    """One problem ``audit verify`` found, naming its event as exactly as is known."""

    problem: str
    handoff_id: str | None
    position: int | None
    version: int | None
    type: str | None
    message: str


class AuditDocument(TypedDict):
    """``audit verify --json``: counts, the guard, every problem."""

    ok: bool
    scope: str | None
    handoffs: int
    events: int
    unsealed_events: int
    guard: GuardDocument
    problems: list[AuditProblem]


# ------------------------------------------------------------------ the rest


class ProtocolDocument(TypedDict, total=False):
    """``protocol show``: the protocol in force (``version`` null and free-form without)."""

    version: int | None
    name: str | None
    source: str | None
    sha256: str
    applied_at: str | None
    applied_by: str
    agents: list[str]
    kinds: list[str]
    free_form: bool
    text: str


class ErrorBody(TypedDict, total=False):
    """What went wrong: a stable code, a message naming the bad input, where."""

    code: str
    message: str
    field: str
    line: int


class ErrorDocument(TypedDict):
    """The body of every refusal and bad-input answer."""

    error: ErrorBody


class TokenIssued(TypedDict):
    """``agents token create --json``: the agent and its bearer token (shown once)."""

    agent: str
    admin: bool
    token: str


class TokensRevoked(TypedDict):
    """``agents token revoke --json``: whose tokens, how many were revoked."""

    agent: str | None
    revoked: int


class TokenEntry(TypedDict):
    """One issued token (never its secret)."""

    agent: str
    admin: bool
    hash_prefix: str
    issued_at: str | None
    revoked_at: str | None


class TokenList(TypedDict):
    """``agents token list --json``: every token issued."""

    tokens: list[TokenEntry]


class WebhookSecretSet(TypedDict):
    """``agents webhook-secret set --json``: the agent's new signing secret (shown once)."""

    agent: str
    secret: str
    previous_valid_until: str | None


class WebhookSecretsRemoved(TypedDict):
    """``agents webhook-secret remove --json``: whose secrets, how many were removed."""

    agent: str
    removed: int


class WebhookSecretEntry(TypedDict):
    """One valid signing secret (never its value)."""

    agent: str
    fingerprint: str
    created_at: str | None
    expires_at: str | None


class WebhookSecretList(TypedDict):
    """``agents webhook-secret list --json``: every signing secret still valid."""

    secrets: list[WebhookSecretEntry]


class AgentsDocument(TypedDict):
    """``agents list --json``: the agent board's rows."""

    agents: list[Document]


class SimulationSummary(TypedDict):
    """What a what-if run found, counted by kind of difference."""

    differences: int
    by_kind: dict[str, int]
    events_read: int
    peak_open: int


class SimulationDocument(TypedDict):
    """``protocol simulate --json`` and ``POST /protocol/simulate``: each difference
    (``escalation_added``/``_removed``, ``reassignment_added``/``_removed``,
    ``follow_up_added``/``_removed``/``_rerouted``/``_refused``, ``refused``; see
    docs/forensics.md for their fields), then the summary. Written as found (streamed)."""

    since: str
    until: str
    candidate_version: int
    differences: list[Document]
    summary: SimulationSummary


class Watching(TypedDict):
    """``watch --json``: the agent now hears every broadcast on the chain."""

    agent: str
    chain_id: str
    watching: bool
    new: bool


class Rebuilt(TypedDict):
    """``projections rebuild --json``: the views rebuilt and the events replayed."""

    rebuilt: list[str]
    events: int


class ReactorStep(TypedDict):
    """One escalation step a reactor pass took."""

    id: str
    reason: str
    level: int
    repeat: int


class ReactorDelivery(TypedDict):
    """One webhook delivery a reactor pass attempted."""

    agent: str
    cursor: int
    url: str
    attempt: int
    delivered: bool
    error: str | None


class ReactorReport(TypedDict):
    """``reactor --once --json``: what one pass did."""

    escalated: list[ReactorStep]
    follow_ups: list[str]
    skipped: int
    deliveries: list[ReactorDelivery]


class BridgeDelivery(TypedDict):
    """A handoff the bridge delivered: the remote agent's task for it."""

    id: str
    agent: str
    task_id: str


class BridgeMove(TypedDict):
    """A remote task's status recorded as its agent's move (ack, working, complete…)."""

    id: str
    by: str
    move: str


class BridgeReplyPassed(TypedDict):
    """A ledger reply (the handoff's version) passed on to the remote task."""

    id: str
    version: int


class BridgeError(TypedDict):
    """What failed: a handoff's id or a remote agent's name, and why."""

    about: str
    error: str


class BridgeReport(TypedDict):
    """``a2a-bridge --once --json``: what one pass did."""

    delivered: list[BridgeDelivery]
    recorded: list[BridgeMove]
    replies: list[BridgeReplyPassed]
    cancelled: list[str]
    errors: list[BridgeError]


class HealthDocument(TypedDict):
    """``GET /healthz``: the store answered, its log head, the ledger's clock."""

    ok: bool
    head: int
    now: str | None
    horizon: NotRequired[LogHorizon]
