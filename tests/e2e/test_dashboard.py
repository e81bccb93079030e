"""The web dashboard in a real browser: headless Chromium against a real ``handoff serve``.

Debian's ``/usr/bin/chromium``, driven by Playwright's Python package (no browser is
downloaded; ``make test`` installs the Debian package when it is missing). The server
and the test share a simulated clock through ``HANDOFF_CLOCK=file:PATH``, so the test
moves time without sleeping. Under ``CI=true`` a missing Chromium fails the run: these
tests never skip there.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CLI
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)
from test_http import AGENTS, start_server, stop

from handoff_ledger.adapters.ledger.clock import FileClock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
"""The machine's network is closed: without the background-networking flags Chromium
keeps opening connections that are refused."""
START = datetime.fromisoformat("2026-11-25T09:00:00+00:00")

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)


@dataclass
class Dashboard:
    url: str
    tokens: dict[str, str]
    cli: CLI
    clock: FileClock
    process: subprocess.Popen[str]

    def api(self, agent: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
        done = httpx.request(method, self.url + path, json=body, headers=headers, timeout=30)
        assert done.status_code in (200, 201), done.text
        return done.json()

    def send(self, **body: Any) -> str:
        return str(self.api("inbox_monitor", "POST", "/handoffs", body)["id"])

    def sign_in(self, page: Page, agent: str = "human:me", path: str = "/dashboard/") -> None:
        page.goto(self.url + path)
        expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
        page.fill("#token", self.tokens[agent])
        page.click("button[type=submit]")
        expect(page.locator(".who")).to_contain_text(f"signed in as {agent}")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for this module only: its sync API keeps an asyncio loop
    running in the main thread, which would break later tests that start their own."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (make test installs it as root)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookie from another test."""
    fresh = browser.new_context(viewport={"width": 1300, "height": 900})
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    # Nothing on a page may ever open a dialog: an injected script would. The handler
    # only records it: an exception raised in a Playwright event handler is swallowed
    # (playwright-python #1017), so the check is made here, after the test.
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield opened
    assert dialogs == [], f"a dialog opened: {dialogs}"


def _serve(cli: CLI, tmp_path: Path, *extra: str) -> Iterator[Dashboard]:
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    clocked = CLI(cli.url, cli.cwd, clock)
    tokens = clocked.issue_tokens(*AGENTS, admins=("human:me",))
    process, url = start_server(clocked, *extra)
    try:
        yield Dashboard(url=url, tokens=tokens, cli=clocked, clock=clock, process=process)
    finally:
        if process.poll() is None:
            stop(process)


@pytest.fixture
def dash(cli: CLI, tmp_path: Path) -> Iterator[Dashboard]:
    """A real ``handoff serve`` on each store (parametrised), on the shared file clock."""
    yield from _serve(cli, tmp_path)


@pytest.fixture
def sqlite_dash(sqlite_cli: CLI, tmp_path: Path) -> Iterator[Dashboard]:
    """The same, on SQLite only."""
    yield from _serve(sqlite_cli, tmp_path)


def test_a_handoff_sent_after_the_page_loaded_appears_live_and_its_chain_goes_back_in_time(
    dash: Dashboard, page: Page
) -> None:
    dash.sign_in(page)
    expect(page.locator("#live-state")).to_have_text("live")
    page.evaluate("window.loadedOnce = true")  # a reload would forget it

    hid = dash.send(to="code_agent", trigger="Bug report detected", ack_within="1h")
    row = page.locator("#log-rows tr", has_text="Bug report detected")
    expect(row).to_be_visible()
    expect(page.locator("#agents tr[data-agent=code_agent] .queue-length")).to_have_text("1")
    dash.clock.advance(timedelta(minutes=5))
    dash.api("code_agent", "POST", f"/handoffs/{hid}/ack", {"eta": "2h", "next_update": "30m"})
    expect(page.locator("#log-rows tr.t-Acked")).to_be_visible()
    assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"

    row.locator("a.hid").click()
    expect(page).to_have_url(re.compile(f"/dashboard/chains/{hid}"))
    node = page.locator(f"#h-{hid}")
    expect(node).to_have_attribute("data-state", "acked")
    expect(node.locator(".step")).to_have_count(2)

    # One step back on the slider: the chain as it stood before the ack.
    page.locator("#slider").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".asof-banner")).to_contain_text("2026-11-25T09:00:00")
    expect(node).to_have_attribute("data-state", "requested")
    expect(node.locator(".step")).to_have_count(1)
    expect(node.locator(".step")).to_contain_text("Created")
    assert "as_of=2026-11-25T09%3A00%3A00Z" in page.url or "as_of=2026-11-25T09:00:00Z" in page.url

    # And forward again: live, acked.
    page.keyboard.press("End")
    expect(page.locator(".asof-banner")).to_have_count(0)
    expect(node).to_have_attribute("data-state", "acked")


def test_a_slider_moved_before_the_page_script_ran_still_goes_back_in_time(
    sqlite_dash: Dashboard, page: Page
) -> None:
    """The page shows before its deferred script has loaded (a loaded server, a slow
    link), and the browser moves a focused range input by itself: that move must not
    be lost. The script is held back here until the key has been pressed."""
    hid = sqlite_dash.send(to="code_agent", trigger="Early key")
    sqlite_dash.clock.advance(timedelta(minutes=5))
    sqlite_dash.api("code_agent", "POST", f"/handoffs/{hid}/ack")
    sqlite_dash.sign_in(page)
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/dashboard/static/dashboard.js", hold)

    page.goto(f"{sqlite_dash.url}/dashboard/chains/{hid}", wait_until="commit")
    node = page.locator(f"#h-{hid}")
    expect(node.locator(".step")).to_have_count(2)
    expect(page.locator("#slider")).to_have_value("1")
    page.wait_for_function("document.querySelector('script[src$=\"dashboard.js\"]') !== null")
    assert len(held) == 1, "the page's script was not held back"
    page.locator("#slider").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#slider")).to_have_value("0")  # moved by the browser alone
    assert page.locator(".asof-banner").count() == 0

    held[0].continue_()
    expect(page.locator(".asof-banner")).to_contain_text("2026-11-25T09:00:00")
    expect(node).to_have_attribute("data-state", "requested")
    expect(node.locator(".step")).to_have_count(1)


def test_a_live_redraw_keeps_the_sliders_keyboard_focus(sqlite_dash: Dashboard, page: Page) -> None:
    """What arrives by the stream redraws the page's live sections, the slider's among
    them: the viewer's keyboard focus stays on the slider, so the next key moves it."""
    hid = sqlite_dash.send(to="code_agent", trigger="Focus kept")
    sqlite_dash.clock.advance(timedelta(minutes=5))
    sqlite_dash.api("code_agent", "POST", f"/handoffs/{hid}/ack")
    sqlite_dash.sign_in(page, path=f"/dashboard/chains/{hid}")
    expect(page.locator("#live-state")).to_have_text("live")
    node = page.locator(f"#h-{hid}")
    expect(node.locator(".step")).to_have_count(2)
    page.locator("#slider").focus()
    before = page.locator("#slider").element_handle()

    sqlite_dash.clock.advance(timedelta(minutes=5))
    sqlite_dash.api(
        "code_agent", "POST", f"/handoffs/{hid}/status", {"status": "working", "message": "halfway"}
    )
    expect(node.locator(".step")).to_have_count(3)  # redrawn from the stream
    expect(page.locator("#slider")).to_have_attribute("max", "2")
    assert page.evaluate("(old) => !old.isConnected", before), "the slider was not redrawn"
    assert page.evaluate("document.activeElement && document.activeElement.id") == "slider"

    page.keyboard.press("ArrowLeft")
    expect(page.locator(".asof-banner")).to_contain_text("2026-11-25T09:05:00")
    expect(node.locator(".step")).to_have_count(2)


def test_the_overview_slider_shows_the_ledger_as_it_stood_earlier(
    sqlite_dash: Dashboard, page: Page
) -> None:
    first = sqlite_dash.send(to="code_agent", trigger="First report")
    sqlite_dash.clock.advance(timedelta(minutes=10))
    sqlite_dash.send(to="support_agent", trigger="Second report")
    sqlite_dash.clock.advance(timedelta(minutes=10))
    sqlite_dash.sign_in(page)
    expect(page.locator("#log-rows tr")).to_have_count(2)
    expect(page.locator("#agents tr[data-agent]")).to_have_count(3)

    page.locator("#slider").focus()
    page.keyboard.press("Home")  # the log's first event
    expect(page.locator(".asof-banner")).to_be_visible()
    expect(page.locator("#log-rows tr")).to_have_count(1)
    expect(page.locator("#log-rows tr")).to_contain_text("First report")
    expect(page.locator("#agents tr[data-agent]")).to_have_count(2)  # no support_agent yet
    expect(page.locator("#live-state")).to_have_text("past view")

    # While the page shows the past, a new handoff does not land in it.
    sqlite_dash.send(to="code_agent", trigger="Third report")
    page.wait_for_timeout(1000)
    expect(page.locator("#log-rows tr")).to_have_count(1)

    page.locator(".asof-banner [data-live-link]").click()
    expect(page.locator("#log-rows tr")).to_have_count(3)
    expect(page.locator("#live-state")).to_have_text("live")
    assert page.locator("#log-rows tr").last.get_attribute("data-position") is not None
    assert first


def test_signing_in_is_required_a_bad_token_is_refused_and_a_revoked_one_stops_at_once(
    sqlite_dash: Dashboard, context: BrowserContext, page: Page
) -> None:
    url = sqlite_dash.url
    # No cookie: every page sends the browser to the login form, and comes back after.
    page.goto(f"{url}/dashboard/agents/code_agent")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next=%2Fdashboard%2Fagents"))
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#token", "hl_not-a-token")
    with page.expect_response(re.compile(r"/dashboard/login$")) as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    expect(page.locator(".error")).to_have_text("Unknown or revoked token.")
    page.fill("#token", sqlite_dash.tokens["code_agent"])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}/dashboard/agents/code_agent")
    expect(page.locator(".who")).to_contain_text("signed in as code_agent")
    [cookie] = context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        "/dashboard",
    )
    assert page.evaluate("document.cookie") == ""  # no script can read the token
    expect(page.locator("#live-state")).to_have_text("live")

    # Without the cookie the data endpoints answer 401, pages redirect.
    assert httpx.get(f"{url}/dashboard/partials/overview").status_code == 401
    assert httpx.get(f"{url}/dashboard/stream").status_code == 401
    assert httpx.get(f"{url}/dashboard/").status_code == 303

    # Revoked while the page is open: the open stream ends and the page goes to the login.
    sqlite_dash.cli.run("agents", "token", "revoke", "code_agent")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?expired=1"))
    expect(page.locator(".error")).to_contain_text("no longer valid")
    page.goto(f"{url}/dashboard/")
    expect(page).to_have_url(re.compile(r"/dashboard/login"))
    token = {"Authorization": f"Bearer {sqlite_dash.tokens['code_agent']}"}
    assert httpx.get(f"{url}/dashboard/partials/overview", headers=token).status_code == 401

    # Signing out forgets the cookie.
    sqlite_dash.sign_in(page, "support_agent")
    page.click("text=Sign out")
    expect(page).to_have_url(f"{url}/dashboard/login")
    assert context.cookies() == []


SCRIPT = "<script>window.pwned = 'trigger'</script>"
IMAGE = "<img src=x onerror=window.pwned='message'>"


def test_what_agents_wrote_is_shown_as_text_never_run(sqlite_dash: Dashboard, page: Page) -> None:
    hid = sqlite_dash.send(
        to="code_agent", trigger=f"Bug {SCRIPT}", payload={"html": IMAGE, SCRIPT: "key"}
    )
    sqlite_dash.sign_in(page)
    # Live too: a status message that arrives by the stream while the page is open.
    expect(page.locator("#live-state")).to_have_text("live")
    sqlite_dash.api(
        "code_agent", "POST", f"/handoffs/{hid}/status", {"status": "stuck", "message": IMAGE}
    )
    live_row = page.locator("#log-rows tr.t-StatusReported")
    expect(live_row).to_contain_text(IMAGE)
    expect(page.locator("#log-rows tr.t-Created")).to_contain_text(f"Bug {SCRIPT}")
    expect(page.locator("#agents")).to_contain_text(IMAGE)  # the board's status message
    assert page.locator("main script, main img").count() == 0

    page.goto(f"{sqlite_dash.url}/dashboard/chains/{hid}")
    node = page.locator(f"#h-{hid}")
    expect(node.locator(".trigger")).to_have_text(f"Bug {SCRIPT}")
    node.locator(".step details summary").click()  # the payload's (not a form's)
    expect(node.locator(".payload")).to_contain_text(IMAGE)
    expect(node.locator(".payload")).to_contain_text(SCRIPT)
    page.goto(f"{sqlite_dash.url}/dashboard/agents/code_agent")
    expect(page.locator("#queue")).to_contain_text(f"Bug {SCRIPT}")
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.pwned") is None


@pytest.fixture
def trial_dash(sqlite_cli: CLI, tmp_path: Path) -> Iterator[Dashboard]:
    yield from _serve(sqlite_cli, tmp_path, "--trial")


def test_a_trial_server_shows_its_dashboard_without_signing_in(
    trial_dash: Dashboard, page: Page
) -> None:
    trial_dash.send(to="code_agent", trigger="Try me")
    page.goto(f"{trial_dash.url}/dashboard/")
    expect(page.locator(".who")).to_contain_text("trial server")
    expect(page.locator("#log-rows")).to_contain_text("Try me")


def test_a_handoff_never_acked_is_highlighted_where_its_chain_broke(
    sqlite_dash: Dashboard, page: Page
) -> None:
    kept = sqlite_dash.send(to="code_agent", trigger="Acked in time", ack_within="1m")
    sqlite_dash.api("code_agent", "POST", f"/handoffs/{kept}/ack")
    dropped = sqlite_dash.send(
        to="support_agent", trigger="Never acked", ack_within="1m", parent_id=kept
    )
    sqlite_dash.clock.advance(timedelta(minutes=5))  # past the ack timer, nobody acked
    sqlite_dash.sign_in(page, path=f"/dashboard/chains/{dropped}")
    node = page.locator(f"#h-{dropped}")
    expect(node).to_have_class(re.compile(r"\bbroken\b"))
    expect(node).to_contain_text("broke here")
    expect(node).to_contain_text("ack due passed")
    expect(page.locator(".breaks")).to_contain_text("never_acked")
    expect(page.locator(".breaks li")).to_have_count(1)
    expect(page.locator(f"#h-{kept}")).not_to_have_class(re.compile(r"\b(broken|late)\b"))
    # Before the ack timer ran out the chain was not broken yet.
    page.locator("#slider").focus()
    page.keyboard.press("Home")
    expect(page.locator(".asof-banner")).to_be_visible()
    expect(page.locator(".breaks")).to_have_count(0)
    expect(node).not_to_have_class(re.compile(r"\bbroken\b"))
    page.goto(f"{sqlite_dash.url}/dashboard/")
    expect(page.locator("#overdue")).to_contain_text("ack_timeout")
    expect(page.locator("#broken")).to_contain_text("never_acked")
    expect(page.locator("#broken .gaps > li")).to_have_count(1)  # the one chain
    expect(page.locator("#agents tr[data-agent=support_agent]")).to_contain_text("overdue")


def test_the_person_in_charge_answers_an_escalation_and_reassigns_from_the_dashboard(
    dash: Dashboard, browser: Browser, page: Page
) -> None:
    """Issue 23: ``human:me`` signs in, sees an escalation waiting on it, answers it
    with a reply and reassigns a handoff it sent, without a page reload; the log holds
    both by ``human:me``; a POST without the CSRF token writes nothing; an agent that
    may not reassign sees no such control, and its forged POST is refused."""
    escalated = dash.send(
        to="code_agent", trigger="Login broken on mobile", ack_within="1h",
        escalate_to=["human:me"],
    )  # fmt: skip
    mine = str(
        dash.api("human:me", "POST", "/handoffs", {"to": "code_agent", "trigger": "Audit"})["id"]
    )
    dash.clock.advance(timedelta(minutes=61))  # the ack never came
    dash.cli.run("reactor", "--once")

    dash.sign_in(page)
    waiting = page.locator("#waiting .waiting-escalation", has_text=escalated[:8])
    expect(waiting).to_contain_text("escalated to you")
    page.evaluate("window.loadedOnce = true")
    waiting.locator("a.act-link").click()
    expect(page).to_have_url(re.compile(f"/dashboard/chains/{escalated}#act-{escalated}"))
    reply = page.locator(f"#act-{escalated} details.act-reply")
    expect(reply).to_have_attribute("open", "")  # opened on arrival, its field focused
    expect(reply.locator("textarea[name=message]")).to_be_focused()
    page.keyboard.type("Please ack: the customer is waiting")
    reply.locator("button[type=submit]").click()
    node = page.locator(f"#h-{escalated}")
    expect(node.locator(".step[data-type=Replied]")).to_contain_text("by human:me")

    page.goto(f"{dash.url}/dashboard/chains/{mine}")
    page.evaluate("window.loadedOnce = true")
    summary = page.locator(f"#act-{mine} details.act-reassign summary")
    summary.focus()
    page.keyboard.press("Enter")  # keyboard reachable: the form opens
    form = page.locator(f"#act-{mine} details.act-reassign form")
    form.locator("input[name=to]").fill("support_agent")
    form.locator("input[name=reason]").fill("code_agent is on the incident")
    form.locator("input[name=reason]").press("Enter")
    expect(form.locator(".act-answer")).to_have_text("done")
    mine_node = page.locator(f"#h-{mine}")
    expect(mine_node.locator(".route").first).to_contain_text("human:me → support_agent")
    expect(mine_node.locator(".step[data-type=Reassigned]")).to_contain_text("by human:me")
    assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"

    by_me = [(e["type"], e["handoff_id"]) for e in dash.cli.log() if e["by"] == "human:me"]
    assert ("Replied", escalated) in by_me
    assert ("Reassigned", mine) in by_me

    # Without the CSRF token (the browser's own cookie, a form from elsewhere): refused.
    before = dash.cli.stored()
    refused = page.request.post(
        f"{dash.url}/dashboard/handoffs/{mine}/cancel",
        form={"reason": "forged"},
        headers={"Accept": "application/json"},
    )
    assert refused.status == 403, refused.text()
    assert dash.cli.stored() == before

    # code_agent may not reassign: no control, and a forged POST (its own token) is 403.
    other = browser.new_context()
    try:
        agent_page = other.new_page()
        dash.sign_in(agent_page, agent="code_agent", path=f"/dashboard/chains/{escalated}")
        actions = agent_page.locator(f"#act-{escalated}")
        expect(actions.locator("details.act-ack")).to_have_count(1)
        expect(actions.locator("details.act-reassign")).to_have_count(0)
        token = actions.locator("input[name=csrf]").first.get_attribute("value")
        assert token
        forged = agent_page.request.post(
            f"{dash.url}/dashboard/handoffs/{escalated}/reassign",
            form={"csrf": token, "to": "support_agent", "reason": "mine now"},
            headers={"Accept": "application/json"},
        )
        assert forged.status == 403, forged.text()
        assert "only its sender" in forged.json()["error"]["message"]
        assert dash.cli.stored() == before
    finally:
        other.close()
