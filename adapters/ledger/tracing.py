"""Whether this process traces, decided once from the standard ``OTEL_*`` variables.

Off by default: with none of them set nothing of OpenTelemetry is imported and each
command pays one ``is None`` check. On when

- ``OTEL_TRACES_EXPORTER`` names exporters (``otlp``, ``console`` (to stderr), or any installed
  under the standard ``opentelemetry_traces_exporter`` entry points; ``none`` is off), or
- it is unset and an OTLP endpoint is (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_ENDPOINT``): ``otlp`` then;

and never while ``OTEL_SDK_DISABLED=true``. ``otlp`` is OTLP over HTTP/protobuf
(``opentelemetry-exporter-otlp-proto-http``) unless ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``
or ``OTEL_EXPORTER_OTLP_PROTOCOL`` says ``grpc`` (whose exporter must be installed).
The exporters read their own variables (endpoint, headers, timeout), the SDK's tracer
provider the sampler's (``OTEL_TRACES_SAMPLER``); the ledger's batching reads
``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``, ``OTEL_BSP_MAX_QUEUE_SIZE`` and
``OTEL_BSP_SCHEDULE_DELAY`` as the SDK's batch span processor would; the resource
``OTEL_SERVICE_NAME`` (``handoff-ledger`` when unset) and ``OTEL_RESOURCE_ATTRIBUTES``.

The SDK and the OTLP exporter come with ``pip install 'handoff-ledger[otel]'``; without
them a process asked to trace says so once on stderr and runs untraced.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from handoff_ledger.adapters.ledger.clock import Clock, SystemClock

if TYPE_CHECKING:
    from handoff_ledger.adapters.ledger.spans import Tracing

__all__ = ["exporter_names", "from_environment", "started"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_decided = False
_tracing: Tracing | None = None

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
ENTRY_POINTS = "opentelemetry_traces_exporter"


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The entry-point names of the exporters ``env`` asks for (none: tracing is off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    asked = env.get("OTEL_TRACES_EXPORTER", "")
    if not asked.strip():  # unset or empty: the same, as the specification says
        names = ["otlp"] if any(env.get(name, "").strip() for name in ENDPOINTS) else []
    else:
        names = [name.strip().lower() for name in asked.split(",") if name.strip()]
    if "none" in names:
        return []
    protocol = next((env[name].strip() for name in PROTOCOLS if env.get(name, "").strip()), "")
    otlp = "otlp_proto_grpc" if protocol == "grpc" else "otlp_proto_http"
    return list(dict.fromkeys(otlp if name == "otlp" else name for name in names))


def from_environment() -> Tracing | None:
    """This process's tracing: built at the first call from ``os.environ``, then kept."""
    global _decided, _tracing
    if _decided:
        return _tracing
    with _lock:
        if not _decided:
            names = exporter_names(os.environ)
            _tracing = _build(names) if names else None
            _decided = True
    return _tracing


def _build(names: list[str]) -> Tracing | None:
    try:
        from opentelemetry.sdk.resources import Resource

        from handoff_ledger.adapters.ledger.spans import BATCH, DELAY_SECONDS, QUEUE, Tracing
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces, but opentelemetry-sdk is not installed "
            "(pip install 'handoff-ledger[otel]'): not tracing"
        )
        return None
    from importlib.metadata import entry_points  # here: ~10 ms for a process not tracing

    exporters = []
    for name in names:
        found = list(entry_points(group=ENTRY_POINTS, name=name))
        if not found:
            log.warning("OTEL_TRACES_EXPORTER: no trace exporter %r is installed; skipped", name)
            continue
        try:
            exporter = found[0].load()
            # console: on stderr, so a command's own output (--json) stays what it was
            exporters.append(exporter(out=sys.stderr) if name == "console" else exporter())
        except Exception as error:  # noqa: BLE001 - a broken exporter must not stop the ledger
            log.warning("OTEL_TRACES_EXPORTER: exporter %r failed to start: %s", name, error)
    if not exporters:
        return None
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "handoff-ledger"}))
    return Tracing.to(
        *exporters,
        resource=resource,
        batch=_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", BATCH),
        queue=_number("OTEL_BSP_MAX_QUEUE_SIZE", QUEUE),
        delay=_number("OTEL_BSP_SCHEDULE_DELAY", DELAY_SECONDS * 1000) / 1000,
    )


def _number(name: str, default: float) -> int:
    """A positive integer from the environment, else ``default`` (said once if invalid)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return int(default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("%s: %r is not a positive integer; using %d", name, text, int(default))
        return int(default)
    return value


def started(clock: Clock) -> tuple[int, float]:
    """When a command starts: the ledger's time (ns since the epoch), and a perf counter
    for its duration. The system clock's time is read as an int directly (no datetime)."""
    if type(clock) is SystemClock:
        return time.time_ns(), time.perf_counter()
    return int(clock.now().timestamp() * 1_000_000) * 1000, time.perf_counter()
