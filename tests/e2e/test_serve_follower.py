"""``handoff serve`` keeps its views current from a child process, and leaves no orphan."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from conftest import CLI
from test_http import start_server, stop
from waiting import eventually


def follower_children(pid: int) -> list[int]:
    """The spawned children of ``pid`` that run the views follower."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


def gone(pid: int) -> bool:
    """No such process, or only its zombie left for init to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_views_follow_without_reads_and_a_killed_serve_leaves_no_follower(cli: CLI) -> None:
    token = cli.issue_tokens("inbox_monitor")["inbox_monitor"]
    process, url = start_server(cli)
    try:
        assert eventually(lambda: len(follower_children(process.pid)) == 1)
        (child,) = follower_children(process.pid)
        headers = {"Authorization": f"Bearer {token}"}
        sent = httpx.post(f"{url}/handoffs", json={"to": "code_agent"}, headers=headers)
        assert sent.status_code == 201, sent.text

        def chains_current() -> bool:
            status = cli.json("projections", "status")
            return {v["name"]: v["lag_events"] for v in status["views"]}["chains"] == 0

        assert eventually(chains_current)  # no request read the views: the child did it
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)  # reaps it and closes its stderr pipe
        assert eventually(lambda: gone(child), 30), "the views follower outlived serve"
    finally:
        if process.poll() is None:
            stop(process)


def test_a_terminated_serve_stops_its_follower_cleanly(cli: CLI) -> None:
    cli.issue_tokens("inbox_monitor")
    process, _ = start_server(cli)
    assert eventually(lambda: len(follower_children(process.pid)) == 1)
    (child,) = follower_children(process.pid)
    stop(process)  # SIGTERM; asserts no traceback on stderr
    assert gone(child)
