"""A refused webhook delivery shows in ``reactor`` output and ``projections status``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import CLI


def test_a_refused_webhook_shows_in_reactor_output_and_is_not_retried(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    hook = "http://127.0.0.1:9/hook"  # loopback, and no allow_private_webhooks
    protocol = (
        f'[agents.inbox_monitor]\n[agents.code_agent]\n[agents."human:me"]\nwebhook = "{hook}"\n'
    )
    sqlite_cli.run("protocol", "apply", str(write_file("handoff.toml", protocol)))
    hid = sqlite_cli.json("send", "--from", "human:me", "--to", "code_agent")["id"]
    sqlite_cli.run("ack", hid, "--as", "code_agent")
    once = sqlite_cli.run("reactor", "--once")
    assert "WEBHOOK_REFUSED: human:me" in once.stderr
    assert "127.0.0.1, a loopback address" in once.stderr
    assert "allow_private_webhooks = true" in once.stderr
    assert "(not retried)" in once.stderr
    assert "0/1 webhooks delivered" in once.stdout
    again = sqlite_cli.run("reactor", "--once")
    assert "0/0 webhooks delivered" in again.stdout
    (status,) = sqlite_cli.json("projections", "status")["webhooks"]
    assert (status["pending"], status["failing"], status["next_attempt"]) == (1, 1, None)
    assert status["last_error"].startswith("refused: ")
