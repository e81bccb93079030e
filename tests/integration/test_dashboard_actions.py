"""Acting from the dashboard, in process: the forms each agent gets, CSRF, refusals.

The browser test (tests/e2e/test_dashboard.py) shows a person acting; these pin down
the rules on SQLite and PostgreSQL: the forms offered are exactly the commands the
domain would accept from that agent, a POST without the viewer's CSRF token or from
another site writes nothing, a forged POST of a command the agent may not give is
refused as every face refuses it, and bad input names its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from handoff_ledger.adapters.faces.dashboard.actions import ACTIONS
from handoff_ledger.adapters.faces.server import create_app
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.domain.handoff import Handoff


@pytest.fixture
def acked(ledger: Ledger, clock: SimulatedClock) -> UUID:
    """inbox_monitor → code_agent, acked, then escalated to human:me (no update)."""
    sent = ledger.send(
        sender="inbox_monitor",
        to="code_agent",
        trigger="Bug report",
        escalate_to=["human:me"],
    ).handoff
    ledger.ack(sent.id, by="code_agent", next_update=timedelta(minutes=30))
    return sent.id


def _client(ledger: Ledger, agent: str, *, admin: bool = False) -> Iterator[TestClient]:
    token = issue_token(ledger, agent, admin=admin)
    with TestClient(create_app(ledger), follow_redirects=False) as http:
        answer = http.post("/dashboard/login", data={"token": token, "next": "/dashboard/"})
        assert answer.status_code == 303
        yield http


@pytest.fixture
def human(ledger: Ledger) -> Iterator[TestClient]:
    yield from _client(ledger, "human:me", admin=True)


@pytest.fixture
def receiver(ledger: Ledger) -> Iterator[TestClient]:
    yield from _client(ledger, "code_agent")


def _forms(page: str, hid: UUID) -> set[str]:
    return set(re.findall(rf'action="/dashboard/handoffs/{hid}/([a-z]+)"', page))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def test_each_agent_gets_the_forms_of_the_commands_it_may_give(
    ledger: Ledger, acked: UUID, human: TestClient, receiver: TestClient
) -> None:
    page = human.get(f"/dashboard/chains/{acked}").text
    assert _forms(page, acked) == {"reply", "reassign", "cancel", "notes"}  # an admin
    page = receiver.get(f"/dashboard/chains/{acked}").text
    assert _forms(page, acked) == {"status", "complete", "fail", "decline", "notes"}
    # As of an earlier time the page shows the past: no forms.
    moment = ledger.history(acked)[0].timestamp.isoformat()
    past = human.get(f"/dashboard/chains/{acked}", params={"as_of": moment}).text
    assert _forms(past, acked) == set()
    # A closed handoff: only a note.
    ledger.complete(acked, by="code_agent")
    page = receiver.get(f"/dashboard/chains/{acked}").text
    assert _forms(page, acked) == {"notes"}
    assert set(ACTIONS) >= {"ack", "status", "complete", "fail", "decline", "reply"}


def test_a_post_without_the_csrf_token_or_from_another_site_writes_nothing(
    ledger: Ledger, acked: UUID, human: TestClient
) -> None:
    token = _csrf(human.get(f"/dashboard/chains/{acked}").text)
    head = ledger.recorder.max_notification_id()
    path = f"/dashboard/handoffs/{acked}/reply"
    for form, headers in [
        ({"message": "use the staging runner"}, {}),
        ({"message": "use the staging runner", "csrf": "0" * 64}, {}),
        ({"message": "use the staging runner", "csrf": token}, {"Origin": "https://evil.example"}),
    ]:
        answer = human.post(path, data=form, headers={"Accept": "application/json", **headers})
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "not_permitted"
    assert ledger.recorder.max_notification_id() == head
    # Without a script the refusal is a page.
    page = human.post(path, data={"message": "x"})
    assert page.status_code == 403
    assert "CSRF" in page.text
    assert ledger.recorder.max_notification_id() == head


def test_a_forged_post_of_a_command_the_agent_may_not_give_is_refused(
    ledger: Ledger, acked: UUID, receiver: TestClient
) -> None:
    token = _csrf(receiver.get(f"/dashboard/chains/{acked}").text)
    head = ledger.recorder.max_notification_id()
    answer = receiver.post(
        f"/dashboard/handoffs/{acked}/reassign",
        data={"csrf": token, "to": "support_agent", "reason": "mine now"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 403, answer.text
    assert "only its sender" in answer.json()["error"]["message"]
    assert ledger.recorder.max_notification_id() == head


def test_bad_input_names_its_field_and_writes_nothing(
    ledger: Ledger, acked: UUID, human: TestClient, receiver: TestClient
) -> None:
    token = _csrf(receiver.get(f"/dashboard/chains/{acked}").text)
    head = ledger.recorder.max_notification_id()
    json_headers = {"Accept": "application/json"}
    for action, form, field in [
        ("complete", {"result": "{nope"}, "result"),
        ("complete", {"result": "[1]"}, "result"),
        ("status", {"status": "sleeping"}, "status"),
        ("status", {"status": "working", "eta": "soon"}, "eta"),
        ("decline", {"reason": " "}, "reason"),
        ("launch", {}, "action"),
    ]:
        answer = receiver.post(
            f"/dashboard/handoffs/{acked}/{action}",
            data={"csrf": token, **form},
            headers=json_headers,
        )
        assert answer.status_code == 422, (action, answer.text)
        assert answer.json()["error"]["field"] == field, (action, answer.text)
    unknown = receiver.post(
        "/dashboard/handoffs/6f1c1f0e-0000-4000-8000-000000000000/complete",
        data={"csrf": token},
        headers=json_headers,
    )
    assert unknown.status_code == 404
    assert ledger.recorder.max_notification_id() == head


def test_a_reply_and_a_reassignment_are_recorded_by_the_signed_in_agent(
    ledger: Ledger, acked: UUID, human: TestClient
) -> None:
    token = _csrf(human.get(f"/dashboard/chains/{acked}").text)
    answer = human.post(
        f"/dashboard/handoffs/{acked}/reply",
        data={"csrf": token, "message": "use the staging runner", "data": '{"runner": 2}'},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    # Without a script: back to the chain (303), the handoff's card in view.
    moved = human.post(
        f"/dashboard/handoffs/{str(acked)[:8]}/reassign",
        data={"csrf": token, "to": "support_agent", "reason": "code_agent is away"},
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/dashboard/chains/{acked}#h-{str(acked)[:8]}"
    events = ledger.history(acked)[-2:]
    assert [type(e).__name__ for e in events] == ["Replied", "Reassigned"]
    assert [e.by for e in events] == ["human:me", "human:me"]
    replied = events[0]
    assert isinstance(replied, Handoff.Replied)
    assert replied.data == {"runner": 2}


def test_a_trial_viewer_gets_no_forms_and_cannot_post(ledger: Ledger, acked: UUID) -> None:
    loopback = "http://127.0.0.1:8000"  # a trial server answers loopback hosts only
    with TestClient(
        create_app(ledger, trial=True), base_url=loopback, follow_redirects=False
    ) as trial:
        page = trial.get(f"/dashboard/chains/{acked}")
        assert page.status_code == 200
        assert _forms(page.text, acked) == set()
        head = ledger.recorder.max_notification_id()
        answer = trial.post(f"/dashboard/handoffs/{acked}/notes", data={"message": "hi"})
        assert answer.status_code == 401
        assert ledger.recorder.max_notification_id() == head


def test_waiting_on_you_links_straight_to_the_forms(
    ledger: Ledger, clock: SimulatedClock, acked: UUID, human: TestClient
) -> None:
    clock.advance(timedelta(minutes=31))  # the promised update did not come
    report = Reactor(ledger).run_once()
    assert report.escalated, report
    page = human.get("/dashboard/").text
    section = page[page.index('id="waiting"') :]
    assert f'href="/dashboard/chains/{acked}#act-{acked}"' in section
    assert "escalated to you" in section
    chain = human.get(f"/dashboard/chains/{acked}").text
    assert f'id="act-{acked}"' in chain
    # A reply from the dashboard answers the escalation: no longer waiting, no break.
    assert "escalation_unanswered" in chain
    answered = human.post(
        f"/dashboard/handoffs/{acked}/reply",
        data={"csrf": _csrf(chain), "message": "ping the on-call"},
        headers={"Accept": "application/json"},
    )
    assert answered.status_code == 200, answered.text
    page = human.get("/dashboard/").text
    assert f"#act-{acked}" not in page
    assert "Nothing waits on you." in page
    assert "escalation_unanswered" not in human.get(f"/dashboard/chains/{acked}").text
