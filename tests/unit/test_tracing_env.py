"""Which exporters the ``OTEL_*`` variables ask for (adapters/ledger/tracing.py)."""

from __future__ import annotations

import pytest

from handoff_ledger.adapters.ledger.tracing import _number, exporter_names

ENDPOINT = "http://127.0.0.1:4318"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "ledger"}, []),
        ({"OTEL_TRACES_EXPORTER": ""}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "console,none"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp_proto_http"]),
        ({"OTEL_TRACES_EXPORTER": " Console , otlp ,otlp"}, ["console", "otlp_proto_http"]),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            ["otlp_proto_grpc"],
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            ["otlp_proto_http"],
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, ["otlp_proto_http"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT}, ["otlp_proto_http"]),
        (
            {"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT},
            ["otlp_proto_http"],
        ),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, []),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, []),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "zipkin_json"}, ["zipkin_json"]),
    ],
)
def test_exporters_asked_for(env: dict[str, str], names: list[str]) -> None:
    assert exporter_names(env) == names


@pytest.mark.parametrize(
    ("text", "value"), [(None, 512), ("", 512), ("64", 64), ("0", 512), ("-3", 512), ("lots", 512)]
)
def test_batching_numbers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str | None, value: int
) -> None:
    if text is None:
        monkeypatch.delenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", raising=False)
    else:
        monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", text)
    assert _number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) == value
