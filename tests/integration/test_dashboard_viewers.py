"""Every dashboard page renders for every kind of viewer: signed out, signed in, trial.

The templates use a strict undefined (``render.py``), so a variable a page forgot to
pass is a 500 rather than a blank. These tests visit every GET route of the
dashboard (a new route must be added to ``SAMPLES``) as each viewer, on SQLite and
PostgreSQL, and the sign-in form in particular (it was a 500 when signed in, and
always on a trial server).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from handoff_ledger.adapters.faces.dashboard import auth, live, routes
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token

# One sample request per GET route ({hid} is a handoff of the ledger); the stream
# never ends, so it is checked apart.
SAMPLES = {
    "/dashboard": ["/dashboard"],
    "/dashboard/": ["/dashboard/", "/dashboard/?as_of=2026-11-25T09:02:00Z"],
    "/dashboard/partials/overview": ["/dashboard/partials/overview"],
    "/dashboard/agents/{name:path}": ["/dashboard/agents/code_agent"],
    "/dashboard/partials/agents/{name:path}": ["/dashboard/partials/agents/code_agent"],
    "/dashboard/chains/{id}": ["/dashboard/chains/{hid}", "/dashboard/chains/not-an-id"],
    "/dashboard/partials/chains/{id}": ["/dashboard/partials/chains/{hid}"],
    "/dashboard/find": ["/dashboard/find?id={hid}"],
    "/dashboard/static/{name}": ["/dashboard/static/dashboard.css"],
    "/dashboard/login": [
        "/dashboard/login",
        "/dashboard/login?next=%2Fdashboard%2Fagents%2Fcode_agent",
        "/dashboard/login?expired=1",
    ],
}
LOOPBACK = "http://127.0.0.1:8000"  # a trial server answers only loopback names


def get_routes() -> set[str]:
    own = [r for module in (routes, auth, live) for r in module.router.routes]
    paths = {r.path for r in own if isinstance(r, APIRoute) and "GET" in r.methods}
    return {p if p.startswith("/dashboard") else "/dashboard" + p for p in paths}


@pytest.fixture
def hid(ledger: Ledger, clock: SimulatedClock) -> UUID:
    sent = ledger.send(sender="inbox_monitor", to="code_agent", trigger="Bug report").handoff
    clock.advance(timedelta(minutes=5))
    ledger.ack(sent.id, by="code_agent")
    return sent.id


@pytest.fixture(params=["signed_out", "cookie", "bearer", "trial", "trial_with_token"])
def viewer(request: pytest.FixtureRequest, ledger: Ledger) -> Iterator[TestClient]:
    trial = request.param.startswith("trial")
    with TestClient(create_app(ledger, trial=trial), base_url=LOOPBACK) as http:
        http.follow_redirects = False
        token = issue_token(ledger, "human:me")
        if request.param == "cookie":
            answer = http.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
            assert answer.status_code == 303
        elif request.param in ("bearer", "trial_with_token"):
            http.headers["Authorization"] = f"Bearer {token}"
        yield http


def test_every_dashboard_route_has_a_sample() -> None:
    assert get_routes() == set(SAMPLES) | {"/dashboard/stream"}


def test_every_page_renders_for_every_viewer(viewer: TestClient, hid: UUID) -> None:
    for samples in SAMPLES.values():
        for sample in samples:
            path = sample.format(hid=hid)
            answer = viewer.get(path)
            assert answer.status_code < 500, (path, answer.status_code, answer.text[:500])
            assert "Traceback" not in answer.text


def test_the_sign_in_form_renders_when_signed_in(ledger: Ledger) -> None:
    with TestClient(create_app(ledger), follow_redirects=False) as http:
        token = issue_token(ledger, "code_agent")
        http.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
        form = http.get("/dashboard/login?next=%2Fdashboard%2Fagents%2Fcode_agent")
    assert form.status_code == 200, form.text
    assert "signed in as <b>code_agent</b>" in form.text
    assert 'href="/dashboard/agents/code_agent"' in form.text


def test_the_sign_in_form_renders_on_a_trial_server(ledger: Ledger) -> None:
    with TestClient(create_app(ledger, trial=True), base_url=LOOPBACK) as http:
        form = http.get("/dashboard/login")
    assert form.status_code == 200, form.text
    assert "needs no sign-in" in form.text
