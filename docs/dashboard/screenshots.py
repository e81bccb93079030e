"""Take the screenshots of docs/dashboard.md: every dashboard page on the seed scenario.

    .venv/bin/python docs/dashboard/screenshots.py      # writes docs/dashboard/*.png

It runs ``handoff demo`` into a fresh SQLite file (the seed scenario, 08:40 to 15:00
simulated), starts a real ``handoff serve`` on it with a simulated clock shared
through ``HANDOFF_CLOCK=file:PATH``, signs in with an admin token in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) and saves one PNG per
page. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
HANDOFF = str(Path(sys.executable).parent / "handoff")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BACK_AT = datetime(2026, 11, 25, 15, 5, tzinfo=UTC)
"""The demo's person in charge is back at 15:00; the screenshots are taken just after."""


def run(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [HANDOFF, *args], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout) if args[-1] == "--json" else done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Any:
    port = free_port()
    process = subprocess.Popen(
        [HANDOFF, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def shoot(page: Page, name: str) -> None:
    page.wait_for_timeout(300)  # let the live badge and fonts settle
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
    sys.stderr.write(f"wrote docs/dashboard/{name}.png\n")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="handoff-shots-"))
    clock_file = folder / "clock"
    clock_file.write_text(BACK_AT.isoformat())
    url = f"sqlite:///{folder / 'handoff.db'}"
    env = {**os.environ, "HANDOFF_DB": url}
    env.pop("HANDOFF_CLOCK", None)
    run(env, "demo", "--db", url)  # the seed scenario, on its own simulated clock
    env["HANDOFF_CLOCK"] = f"file:{clock_file}"
    admin = run(env, "agents", "token", "create", "human:me", "--admin", "--json")["token"]
    inbox = run(env, "agents", "token", "create", "inbox_monitor", "--json")["token"]
    log = [json.loads(line) for line in run(env, "log", "--json", "--db", url).splitlines()]
    bug = next(e["handoff_id"] for e in log if e.get("kind") == "bug_report")
    never_acked = next(e["handoff_id"] for e in log if e.get("reason") == "ack_timeout")
    with serving(env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/dashboard/")
        shoot(page, "login")
        page.fill("#token", admin)
        page.click("button[type=submit]")
        page.wait_for_selector("#log-rows tr")
        # A handoff sent while the page is open: it comes in live at the top of the log.
        clock_file.write_text((BACK_AT + timedelta(minutes=1)).isoformat())
        httpx.post(
            f"{url}/handoffs",
            headers={"Authorization": f"Bearer {inbox}"},
            json={
                "to": "code_agent",
                "kind": "bug_report",
                "payload": {
                    "email_id": "msg_124",
                    "customer": "sam@company.com",
                    "issue": "Export to CSV times out",
                },
            },
            timeout=10,
        ).raise_for_status()
        page.wait_for_selector("#log-rows tr.fresh")
        shoot(page, "overview")
        page.goto(f"{url}/dashboard/agents/code_agent")
        shoot(page, "agent")
        page.goto(f"{url}/dashboard/chains/{bug}")
        shoot(page, "chain")
        page.locator("#slider").focus()
        for _ in range(4):  # back to before the bug report was completed
            page.keyboard.press("ArrowLeft")
        page.wait_for_selector(".asof-banner")
        shoot(page, "chain-as-of")
        page.goto(f"{url}/dashboard/chains/{never_acked}")
        shoot(page, "chain-broken")
        page.goto(f"{url}/dashboard/?as_of=2026-11-25T10:30:00Z")
        shoot(page, "overview-as-of")
        browser.close()


if __name__ == "__main__":
    main()
