"""``/metrics``: the ledger in Prometheus's text format, computed at scrape time.

Nothing is counted as requests pass: a server with ``--workers 4``, another host,
or a restart would each count differently. Every family is computed when Prometheus
scrapes, from what every process shares (docs/metrics.md):

- the **chains view** (one row per handoff: state, receiver, created, acked, closed
  times): open handoffs by state and receiver, handoffs created and closed, the ack
  latency and completion time histograms, each one ``GROUP BY`` over the table;
- the **timers view**: overdue promises (a range scan of the due-time index);
- **the log itself** for escalations by reason and level: each serving process folds
  the ``Escalated`` events incrementally from the position it last read (the first
  scrape reads them all, later ones only what is new; only that topic is read), so
  every process counts the same events;
- the **agents view**'s promises (one row per ETA or next-update promise): kept,
  late and broken per agent, kind and promise, the kept ratio and the lateness
  quantiles, computed as ``agents list`` computes them (:mod:`.promises`; the rows
  that count cross to Python, since quantiles need every lateness);
- ``Views.status``: each view's position and lag (what ``projections status`` shows);
- ``hl_deliveries``: webhook deliveries and failed attempts;
- ``hl_reactor_passes``: the reactors' pass durations (:mod:`.reactor_passes`).

Agent labels are the protocol in force's declared agents; any other name is
``other`` (an A2A push config ``a2a-push``), so the number of series stays bounded
whatever names free-form handoffs use. Kind labels likewise: a declared kind, ``none``
for a handoff sent without one, else ``other``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.utils import get_topic
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.services.promises import accuracy
from handoff_ledger.adapters.services.reactor_passes import ReactorPasses
from handoff_ledger.adapters.services.webhooks import DELIVERIES
from handoff_ledger.adapters.views import Views
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import OPEN_STATES
from handoff_ledger.projections.chains import HANDOFFS
from handoff_ledger.projections.timers import TIMERS

__all__ = ["ACK_BUCKETS", "COMPLETION_BUCKETS", "PROMISES", "LedgerCollector"]

ACK_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400)
"""Seconds from sent to acked: a second to a day."""
COMPLETION_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800)
"""Seconds from sent to completed: a minute to a week."""
PROMISES = {"ack_timeout": "ack", "update_overdue": "update", "deadline_missed": "deadline"}
"""A timer's reason → the promise it keeps (the ``promise`` label)."""
_ESCALATED = get_topic(Handoff.Escalated)
_PAGE = 1000


class EscalationFold:
    """Escalations by (reason, level), folded from the log from where it last read."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.position = 0
        self.counts: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()  # scrapes may come on several threads

    def read(self) -> dict[tuple[str, int], int]:
        """The counts up to the log's head now."""
        with self._lock:
            while True:
                found = self.ledger.recorder.select_notifications(
                    start=self.position + 1, limit=_PAGE, topics=[_ESCALATED]
                )
                for notification in found:
                    event: Any = self.ledger.mapper.to_domain_event(notification)
                    self.counts[(str(event.reason), int(event.level))] += 1
                if found:
                    self.position = found[-1].id
                if len(found) < _PAGE:
                    return dict(self.counts)


class LedgerCollector(Collector):
    """Every family of ``/metrics``, computed from the views and the log when collected."""

    def __init__(self, ledger: Ledger, views: Views) -> None:
        self.ledger = ledger
        self.views = views
        self.store = views.store
        self.escalations = EscalationFold(ledger)
        self.passes = ReactorPasses(ledger, views.store)

    def collect(self) -> Iterator[Metric]:
        """Called by the registry at each scrape."""
        current = self.ledger.protocol_in_force()
        declared = set(current.protocol.agents) if current is not None else set()
        kinds = set(current.protocol.kinds) if current is not None else set()

        def agent(name: str | None) -> str:
            if name in declared:
                return str(name)
            return "a2a-push" if str(name).startswith("a2a-push:") else "other"

        yield from self._handoffs(agent)
        yield from self._overdue(agent)
        yield self._escalations()
        yield from self._histograms(agent)

        def labels(name: str, kind: str | None) -> tuple[str, str | None]:
            return agent(name), "none" if kind is None else kind if kind in kinds else "other"

        yield from self._promises(labels)
        yield from self._views()
        yield from self._webhooks(agent)
        yield from self._reactor()

    # ------------------------------------------------------------------ families

    def _handoffs(self, agent: Any) -> Iterable[Metric]:
        rows = self.store.query(
            f"SELECT state, receiver, COUNT(*) AS n FROM {self.store.table(HANDOFFS)} "
            "GROUP BY state, receiver"
        )
        opened = GaugeMetricFamily(
            "handoff_open_handoffs",
            "Open handoffs by state and receiver.",
            labels=["state", "receiver"],
        )
        closed = CounterMetricFamily(
            "handoff_closed_handoffs",
            "Handoffs closed, by final state and receiver.",
            labels=["state", "receiver"],
        )
        created = CounterMetricFamily("handoff_created_handoffs", "Handoffs sent (Created events).")
        open_counts: Counter[tuple[str, str]] = Counter()
        closed_counts: Counter[tuple[str, str]] = Counter()
        for row in rows:
            key = (str(row["state"]), agent(row["receiver"]))
            (open_counts if row["state"] in OPEN_STATES else closed_counts)[key] += int(row["n"])
        for (state, receiver), n in sorted(open_counts.items()):
            opened.add_metric([state, receiver], n)
        for (state, receiver), n in sorted(closed_counts.items()):
            closed.add_metric([state, receiver], n)
        created.add_metric([], sum(open_counts.values()) + sum(closed_counts.values()))
        return [opened, closed, created]

    def _overdue(self, agent: Any) -> Iterable[Metric]:
        now_us = int(self.ledger.clock.now().timestamp() * 1_000_000)
        rows = self.store.query(
            f"SELECT reason, receiver, COUNT(*) AS n FROM {self.store.table(TIMERS)} "
            "WHERE due_us <= ? GROUP BY reason, receiver",
            [now_us],
        )
        family = GaugeMetricFamily(
            "handoff_overdue_handoffs",
            "Promises past due now, by promise (ack, update, deadline) and receiver.",
            labels=["promise", "receiver"],
        )
        counts: Counter[tuple[str, str]] = Counter()
        for row in rows:
            counts[(PROMISES.get(str(row["reason"]), "other"), agent(row["receiver"]))] += int(
                row["n"]
            )
        for (promise, receiver), n in sorted(counts.items()):
            family.add_metric([promise, receiver], n)
        return [family]

    def _escalations(self) -> Metric:
        family = CounterMetricFamily(
            "handoff_escalations",
            "Escalated events by reason and level (the log's, folded incrementally).",
            labels=["reason", "level"],
        )
        for (reason, level), n in sorted(self.escalations.read().items()):
            family.add_metric([reason, str(level)], n)
        return family

    def _histograms(self, agent: Any) -> Iterable[Metric]:
        table = self.store.table(HANDOFFS)
        ack = self._histogram(
            "handoff_ack_latency_seconds",
            "Seconds from sent to acked, per handoff acked (since its last reassignment).",
            f"SELECT receiver, acked_us - created_us AS d FROM {table} WHERE acked_us IS NOT NULL",
            ACK_BUCKETS,
            agent,
        )
        done = self._histogram(
            "handoff_completion_seconds",
            "Seconds from sent to completed, per completed handoff.",
            f"SELECT receiver, closed_us - created_us AS d FROM {table} WHERE state = 'completed'",
            COMPLETION_BUCKETS,
            agent,
        )
        return [ack, done]

    def _histogram(
        self, name: str, text: str, source: str, buckets: tuple[int, ...], agent: Any
    ) -> Metric:
        """Cumulative bucket counts per receiver, counted by the database."""
        columns = ", ".join(
            f"SUM(CASE WHEN d <= {b * 1_000_000} THEN 1 ELSE 0 END) AS b{i}"
            for i, b in enumerate(buckets)
        )
        rows = self.store.query(
            f"SELECT receiver, COUNT(*) AS n, SUM(d) AS total, {columns} "
            f"FROM ({source}) AS t GROUP BY receiver"
        )
        merged: dict[str, list[float]] = {}
        for row in rows:
            values: list[float] = [float(row[f"b{i}"] or 0) for i in range(len(buckets))]
            values += [float(row["n"]), int(row["total"] or 0) / 1e6]
            into = merged.setdefault(agent(row["receiver"]), [0.0] * len(values))
            for i, value in enumerate(values):
                into[i] += value
        family = HistogramMetricFamily(name, text, labels=["receiver"])
        for receiver, counts in sorted(merged.items()):
            pairs = [(str(float(b)), counts[i]) for i, b in enumerate(buckets)]
            pairs.append(("+Inf", counts[len(buckets)]))
            family.add_metric([receiver], pairs, sum_value=counts[len(buckets) + 1])
        return family

    def _promises(self, labels: Any) -> Iterable[Metric]:
        now_us = int(self.ledger.clock.now().timestamp() * 1_000_000)
        entries = accuracy(self.views.read.promises(now_us), now_us, labels=labels)
        names = ["agent", "kind", "promise"]
        counted = GaugeMetricFamily(
            "handoff_promises",
            "ETA and next-update promises that count now (settled, or open past due), by"
            " outcome (kept, late, broken).",
            labels=[*names, "outcome"],
        )
        ratio = GaugeMetricFamily(
            "handoff_promises_kept_ratio",
            "Share of the promises that count which were kept on time.",
            labels=names,
        )
        lateness = GaugeMetricFamily(
            "handoff_promise_lateness_seconds",
            "How late the late promises were (open ones: so far), nearest-rank quantiles.",
            labels=[*names, "quantile"],
        )
        for e in entries:
            key = [e["agent"], str(e["kind"]), e["promise"]]
            for outcome in ("kept", "late", "broken"):
                counted.add_metric([*key, outcome], e[outcome])
            ratio.add_metric(key, e["kept"] / e["counted"])
            for quantile, value in (
                ("0.5", e["median_late_seconds"]),
                ("0.9", e["p90_late_seconds"]),
            ):
                if value is not None:
                    lateness.add_metric([*key, quantile], value)
        return [counted, ratio, lateness]

    def _views(self) -> Iterable[Metric]:
        statuses = self.views.status()
        head = GaugeMetricFamily("handoff_log_head", "The log's last position.")
        head.add_metric([], statuses[0].head if statuses else self.ledger.head())
        position = GaugeMetricFamily(
            "handoff_view_position", "The log position each view has applied.", labels=["view"]
        )
        events = GaugeMetricFamily(
            "handoff_view_lag_events", "Events each view has yet to apply.", labels=["view"]
        )
        seconds = GaugeMetricFamily(
            "handoff_view_lag_seconds",
            "Age of the oldest event each view has yet to apply (0 when current).",
            labels=["view"],
        )
        for status in statuses:
            position.add_metric([status.name], status.position)
            events.add_metric([status.name], status.lag_events)
            seconds.add_metric([status.name], status.lag_seconds)
        return [head, position, events, seconds]

    def _webhooks(self, agent: Any) -> Iterable[Metric]:
        delivered = CounterMetricFamily(
            "handoff_webhook_deliveries", "Webhook deliveries made (2xx).", labels=["agent"]
        )
        failed = CounterMetricFamily(
            "handoff_webhook_failed_attempts",
            "Webhook attempts that failed (an error status, no answer, refused).",
            labels=["agent"],
        )
        pending = GaugeMetricFamily(
            "handoff_webhook_pending", "Webhook deliveries waiting to go out.", labels=["agent"]
        )
        if DELIVERIES in self.store.existing_tables():
            rows = self.store.query(
                "SELECT agent, "
                "SUM(CASE WHEN delivered_us IS NOT NULL THEN 1 ELSE 0 END) AS delivered, "
                "SUM(CASE WHEN delivered_us IS NULL THEN 1 ELSE 0 END) AS pending, "
                "SUM(attempts) AS attempts "
                f"FROM {self.store.dialect.table(DELIVERIES)} GROUP BY agent"
            )
            counts: dict[str, list[int]] = {}
            for row in rows:
                into = counts.setdefault(agent(row["agent"]), [0, 0, 0])
                made, waiting = int(row["delivered"] or 0), int(row["pending"] or 0)
                into[0] += made
                into[1] += int(row["attempts"] or 0) - made  # every attempt but the good one
                into[2] += waiting
            for name, (made, failures, waiting) in sorted(counts.items()):
                delivered.add_metric([name], made)
                failed.add_metric([name], failures)
                pending.add_metric([name], waiting)
        return [delivered, failed, pending]

    def _reactor(self) -> Iterable[Metric]:
        totals = self.passes.totals()
        passes = SummaryMetricFamily(
            "handoff_reactor_pass_seconds", "Duration of the reactors' passes (every reactor)."
        )
        last = GaugeMetricFamily("handoff_reactor_last_pass_seconds", "The last pass's duration.")
        when = GaugeMetricFamily(
            "handoff_reactor_last_pass_timestamp_seconds", "When the last pass ended (ledger time)."
        )
        if totals is not None:
            passes.add_metric([], count_value=totals.passes, sum_value=totals.total_seconds)
            last.add_metric([], totals.last_seconds)
            when.add_metric([], totals.last_at_us / 1e6)
        return [passes, last, when]
