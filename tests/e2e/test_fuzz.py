"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis).

A real ``handoff serve`` on each store, an admin token, and for every operation in
``/openapi.json`` (but the endless SSE streams) valid and invalid requests generated
from the document itself. Every answer must be documented: no 5xx, a status code
and content type the operation declares, a body that matches the declared schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from conftest import CLI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup
from sizes import short_and_full
from test_http import start_server, stop

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("HANDOFF_FUZZ_EXAMPLES", "50"))
"""Examples per operation and mode at full size (``soak``): some 1,500 requests per store."""
SHORT_EXAMPLES = 8
"""What ``make test`` runs: every operation and mode, a sixth of the examples."""


@dataclass
class Served:
    url: str
    token: str

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def served(cli: CLI) -> Iterator[Served]:
    token = cli.issue_tokens("code_agent", admins=("human:me",))["human:me"]
    process, url = start_server(cli)
    try:
        yield Served(url=url, token=token)
    finally:
        stop(process)  # fails on any traceback in the server's output


@pytest.fixture
def api(served: Served) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    # The SSE streams never end: they are tested by a real client in test_sse.py.
    return schema.exclude(tag="streams")


@short_and_full("examples", SHORT_EXAMPLES, EXAMPLES)
def test_the_api_answers_every_request_as_documented(
    api: schemathesis.BaseSchema, served: Served, examples: int
) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

            try:
                fuzz()
            except Unsatisfiable:
                # No parameters and no body (GET /healthz): nothing to make invalid.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, FailureGroup) as exc:  # noqa: BLE001 (every operation's failures)
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_what_the_fuzzer_found_is_refused_and_writes_nothing(served: Served) -> None:
    """Each of these was a 500, and the first three also recorded an event that no
    reader could get past afterwards (the log and every view failed from then on)."""
    poison = [
        {"to": "code_agent", "deadline": "9999-12-31T23:59:59-14:00"},
        {"to": "code_agent", "trigger": "a\u0000b"},
        {"to": "code_agent", "payload": {"email": {"id\u0000": 1}}},
    ]
    with served.client() as admin:
        for body in poison:
            refused = admin.post("/handoffs", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert "NUL" in refused.text or "out of range" in refused.text
        for path, params in [
            ("/agents/a%00b/inbox", {}),
            ("/agents/a%00b/notifications", {}),
            ("/agents/code_agent/notifications", {"since": str(2**63)}),
            ("/log", {"since": str(2**63)}),
            ("/log", {"until": "0001-01-01T00:00:00+14:00"}),
            ("/overdue", {"as_of": "9999-12-31T23:59:59-14:00"}),
        ]:
            refused = admin.get(path, params=params)
            assert refused.status_code == 422, (path, params, refused.text)
        unparsable = admin.post(
            "/handoffs", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
        )
        assert unparsable.status_code == 422, unparsable.text
        assert admin.get("/log").json()["entries"] == []
        assert admin.get("/overdue").status_code == 200
