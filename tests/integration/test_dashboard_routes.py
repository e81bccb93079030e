"""The dashboard's routes in process (no browser): read-only, signed in, escaped, as of a time.

The browser tests (tests/e2e/test_dashboard.py) show what a person sees; these pin
down the rules every route keeps, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from handoff_ledger.adapters.faces.dashboard import actions, auth, live, models, routes
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token, revoke_tokens
from handoff_ledger.domain.states import Status


@pytest.fixture
def chain(ledger: Ledger, clock: SimulatedClock) -> UUID:
    """A bug report, acked five minutes later, with a follow-up sent from it."""
    sent = ledger.send(
        sender="inbox_monitor",
        to="code_agent",
        trigger="Bug <b>report</b>",
        payload={"issue": "<script>alert(1)</script>"},
        ack_within=timedelta(hours=1),
    ).handoff
    clock.advance(timedelta(minutes=5))
    ledger.ack(sent.id, by="code_agent", next_update=timedelta(minutes=30))
    clock.advance(timedelta(minutes=5))
    ledger.report_status(sent.id, by="code_agent", status=Status.parse("stuck"), message="<i>")
    ledger.send(sender="code_agent", to="team/reviewer", trigger="Review", parent_id=sent.id)
    clock.advance(timedelta(hours=1))
    return sent.id


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger), follow_redirects=False) as http:
        yield http


@pytest.fixture
def signed_in(ledger: Ledger, client: TestClient) -> TestClient:
    token = issue_token(ledger, "human:me", admin=True)
    answer = client.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
    assert answer.status_code == 303
    return client


def pages(hid: UUID) -> list[str]:
    moment = "2026-11-25T09:02:00Z"
    return [
        "/dashboard/",
        f"/dashboard/?as_of={moment}",
        "/dashboard/agents/code_agent",
        f"/dashboard/agents/code_agent?as_of={moment}",
        "/dashboard/agents/team%2Freviewer",
        f"/dashboard/chains/{hid}",
        f"/dashboard/chains/{hid}?as_of={moment}",
    ]


def test_no_dashboard_route_writes_anything(
    ledger: Ledger, signed_in: TestClient, chain: UUID
) -> None:
    own = [r for module in (routes, auth, live, actions) for r in module.router.routes]
    writes = {
        (r.path, method)
        for r in own
        if isinstance(r, APIRoute)
        for method in r.methods
        if method not in ("GET", "HEAD")
    }
    # Only the cookie is set or cleared by these two, and the forms that act post to
    # one route (tests/integration/test_dashboard_actions.py); pages never write.
    assert writes == {
        ("/login", "POST"),
        ("/logout", "POST"),
        ("/handoffs/{id}/{action}", "POST"),
    }
    head = ledger.recorder.max_notification_id()
    partials = [p.replace("/dashboard/", "/dashboard/partials/", 1) for p in pages(chain)[2:]]
    for path in [*pages(chain), "/dashboard/partials/overview", *partials]:
        answer = signed_in.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
    signed_in.post("/dashboard/logout")
    assert ledger.recorder.max_notification_id() == head


def test_every_page_asks_to_sign_in_and_every_fragment_answers_401(
    client: TestClient, chain: UUID
) -> None:
    for path in pages(chain):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/login?next=%2Fdashboard%2F")
    assert client.get("/dashboard/partials/overview").status_code == 401
    assert client.get(f"/dashboard/partials/chains/{chain}").status_code == 401
    assert client.get("/dashboard/stream").status_code == 401
    assert client.get("/dashboard/login").status_code == 200


def test_the_cookie_is_httponly_strict_and_scoped_to_the_dashboard(
    ledger: Ledger, client: TestClient
) -> None:
    token = issue_token(ledger, "code_agent")
    answer = client.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"handoff_dashboard={token};")
    assert {"HttpOnly", "SameSite=strict", "Path=/dashboard"} <= set(cookie.split("; "))


def test_a_bearer_header_works_and_a_revoked_token_stops_at_once(
    ledger: Ledger, client: TestClient, chain: UUID
) -> None:
    token = issue_token(ledger, "support_agent")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/dashboard/", headers=bearer).status_code == 200
    client.post("/dashboard/login", data={"token": token})
    assert client.get("/dashboard/partials/overview").status_code == 200
    revoke_tokens(ledger, agent="support_agent")
    assert client.get("/dashboard/partials/overview").status_code == 401
    assert client.get("/dashboard/partials/overview", headers=bearer).status_code == 401
    again = client.get("/dashboard/")
    assert again.headers["location"].endswith("&expired=1")
    assert 'handoff_dashboard=""' in again.headers["set-cookie"]  # and forgotten


def test_login_goes_back_only_to_a_dashboard_page(ledger: Ledger, client: TestClient) -> None:
    token = issue_token(ledger, "code_agent")
    for target in ("https://elsewhere.example/", "//elsewhere.example/dashboard/", "/docs"):
        answer = client.post("/dashboard/login", data={"token": token, "next": target})
        assert answer.headers["location"] == "/dashboard/"
    answer = client.post("/dashboard/login", data={"token": token, "next": "/dashboard/agents/a"})
    assert answer.headers["location"] == "/dashboard/agents/a"


def test_what_agents_wrote_is_escaped_and_scripts_run_only_from_the_dashboard(
    signed_in: TestClient, chain: UUID
) -> None:
    for path in pages(chain):
        answer = signed_in.get(path)
        body = answer.text
        assert not [raw for raw in ("<b>report</b>", "<script>alert", "<i>") if raw in body]
        assert re.findall(r"<script[^>]*>", body) == [
            '<script src="/dashboard/static/dashboard.js" defer>'
        ]
        policy = answer.headers["content-security-policy"]
        assert {"default-src 'none'", "script-src 'self'"} <= set(policy.split("; "))
    chain_page = signed_in.get(f"/dashboard/chains/{chain}").text
    assert "Bug &lt;b&gt;report&lt;/b&gt;" in chain_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in chain_page


def test_the_chain_page_as_of_a_time_shows_that_time(signed_in: TestClient, chain: UUID) -> None:
    now = signed_in.get(f"/dashboard/chains/{chain}").text
    assert now.count('class="step ') == 4  # Created, Acked, StatusReported + the follow-up
    assert f'id="h-{chain}" data-state="blocked"' in now
    before_ack = signed_in.get(f"/dashboard/chains/{chain}?as_of=2026-11-25T09:02:00Z").text
    assert f'id="h-{chain}" data-state="requested"' in before_ack
    assert before_ack.count('class="step ') == 1
    assert "As it stood at" in before_ack
    before_all = signed_in.get(f"/dashboard/chains/{chain}?as_of=2026-11-25T08:00:00Z").text
    assert "had not started yet" in before_all


def test_unknown_ids_and_bad_times_are_error_pages(signed_in: TestClient, chain: UUID) -> None:
    assert signed_in.get(f"/dashboard/chains/{uuid4()}").status_code == 404
    assert signed_in.get("/dashboard/chains/not-a-uuid").status_code == 404
    bad_time = signed_in.get(f"/dashboard/chains/{chain}?as_of=yesterday")
    assert bad_time.status_code == 422
    assert "as_of" in bad_time.text
    found = signed_in.get(f"/dashboard/find?id={chain}")
    assert found.headers["location"] == f"/dashboard/chains/{chain}"


def test_the_dashboard_is_not_part_of_the_api_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/dashboard")]


def test_each_break_of_the_chain_document_is_listed_and_its_handoff_drawn_broken(
    signed_in: TestClient, chain: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = models.chain_document

    def with_a_break(views: Any, some_id: UUID, as_of: Any) -> dict[str, Any]:
        document = shared(views, some_id, as_of)
        brk = {
            "handoff_id": str(chain),
            "kind": "silent",
            "agent": "code_agent",
            "rule": "update_overdue",
            "at": "2026-11-25T09:40:00Z",
            "message": "code_agent went <b>silent</b> after its status report",
        }
        return {**document, "breaks": [brk]}

    monkeypatch.setattr(models, "chain_document", with_a_break)
    page = signed_in.get(f"/dashboard/chains/{chain}").text
    assert "Where it broke" in page
    assert "code_agent went &lt;b&gt;silent&lt;/b&gt; after its status report" in page
    assert f'class="node st-blocked broken late" id="h-{chain}"' in page
    assert page.count("broke here") == 1  # the follow-up is not broken


def test_a_sign_in_form_posted_from_another_site_is_refused(
    ledger: Ledger, client: TestClient
) -> None:
    token = issue_token(ledger, "code_agent")
    elsewhere = client.post(
        "/dashboard/login", data={"token": token}, headers={"Origin": "https://elsewhere.example"}
    )
    assert elsewhere.status_code == 403
    assert "set-cookie" not in elsewhere.headers
    here = client.post(
        "/dashboard/login", data={"token": token}, headers={"Origin": "http://testserver"}
    )
    assert here.status_code == 303


def test_the_overview_lists_the_broken_chains_now_and_says_so_in_a_past_view(
    signed_in: TestClient, chain: UUID
) -> None:
    now = signed_in.get("/dashboard/").text
    assert 'id="broken"' in now
    assert f'href="/dashboard/chains/{chain}"' in now
    assert "silent" in now  # code_agent said it was stuck, then nothing for an hour
    past = signed_in.get("/dashboard/?as_of=2026-11-25T09:02:00Z").text
    assert "Shown for now only" in past


def test_every_time_on_a_page_reads_one_way(
    signed_in: TestClient, chain: UUID, clock: SimulatedClock
) -> None:
    """Issue 22: UTC to the second with a Z, relative times in one or two units.

    The row of a break read ``25 Nov 10:10:00`` beside its message's ISO time, and
    the overview printed ``7d22h39m18s ago``.
    """
    clock.advance(timedelta(days=7, hours=22, minutes=39, seconds=18, microseconds=123456))
    for path in pages(chain):
        body = signed_in.get(path).text
        shown = re.sub(r"<[^>]+>", " ", body)  # what a person reads: no tags, no attributes
        assert not re.search(r"\d\d \w{3} \d\d:\d\d", shown), path  # "25 Nov 09:05:12"
        assert not re.search(r"T\d\d:\d\d:\d\d(\.\d+|\+00:00)", shown), path
        assert not re.search(r"(\d+[dhms]){3,}", shown), path  # three units or more
    overview = re.sub(r"<[^>]+>", " ", signed_in.get("/dashboard/").text)
    assert "7d 23h ago" in overview  # the overdue ack, rounded
    assert re.search(r"2026-11-25T\d\d:\d\d:\d\dZ", overview)  # and when it fell due


def test_the_board_and_the_agent_page_show_how_promises_were_kept_now_and_then(
    signed_in: TestClient, chain: UUID
) -> None:
    """Issue 26: code_agent promised an update by 09:35 and kept it (stuck, 09:10), then
    owed the next by 09:40 and said nothing: at 10:10 one of two kept; at 09:12 the
    second was not due yet."""
    row = re.compile(r'<tr[^>]*data-agent="code_agent".*?</tr>', re.S)
    now = row.search(signed_in.get("/dashboard/").text)
    assert now is not None
    assert "updates 50% (1 of 2)" in now.group(0)
    past = row.search(signed_in.get("/dashboard/?as_of=2026-11-25T09:12:00Z").text)
    assert past is not None
    assert "updates 100% (1 of 1)" in past.group(0)
    page = signed_in.get("/dashboard/agents/code_agent").text
    assert "updates 50% (1 of 2)" in page
    [late] = re.findall(r'<tr data-promise="/update">.*?</tr>', page, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", late, re.S)
    assert cells[2:7] == ["50% (1 of 2)", "1", "0", "30m", "30m"]  # late since 09:40
