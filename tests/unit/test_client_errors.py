"""The client's error mapping and its independence from the server's code (no I/O)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from handoff_ledger.client import (
    Conflict,
    Forbidden,
    HandoffLedgerError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
)
from handoff_ledger.client._calls import document, duration, moment, path
from handoff_ledger.client._errors import error_for


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, InvalidInput),
        (500, ServerError),
        (503, ServerError),
        (400, HandoffLedgerError),
    ],
)
def test_each_status_has_its_exception(status: int, kind: type[HandoffLedgerError]) -> None:
    body = {"error": {"code": "some_code", "message": "what happened", "field": "eta"}}
    error = error_for(httpx.Response(status, json=body))
    assert type(error) is kind
    assert (error.status, error.code, error.message, error.field) == (
        status, "some_code", "what happened", "eta",
    )  # fmt: skip
    assert str(error) == f"{status} some_code: what happened"


def test_an_answer_without_an_error_document_still_says_something() -> None:
    error = error_for(httpx.Response(502, text="Bad Gateway from the proxy"))
    assert isinstance(error, ServerError)
    assert (error.code, error.message, error.field) == (
        "http_error",
        "Bad Gateway from the proxy",
        None,
    )
    with pytest.raises(HandoffLedgerError, match="JSON object"):
        document(httpx.Response(200, json=[1, 2]))


def test_values_are_written_as_the_server_reads_them() -> None:
    assert duration(timedelta(hours=2)) == "PT7200S"
    assert duration(timedelta(milliseconds=1500)) == "PT1.5S"
    assert duration("30m") == "30m"
    assert moment(datetime(2026, 11, 25, 9, tzinfo=UTC)) == "2026-11-25T09:00:00+00:00"
    assert path("agents", "human:me", "inbox") == "/agents/human%3Ame/inbox"
    assert path("handoffs", "../log") == "/handoffs/..%2Flog"


def test_the_client_loads_none_of_the_server_code() -> None:
    code = (
        "import sys, handoff_ledger.client\n"
        "loaded = [m for m in sys.modules if m.startswith('handoff_ledger.')]\n"
        "print(sorted({m.split('.')[1] for m in loaded}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['client']"
