"""The remote A2A agent (``e2e/a2a_remote_agent.py``) as a process a test starts and stops.

Shared by the bridge tests and the six-hour test with ``code_agent`` as a remote.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

REMOTE = Path(__file__).parent / "e2e" / "a2a_remote_agent.py"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Remote:
    """The remote agent's process: started, stopped, and what it acted on."""

    def __init__(self, port: int, folder: Path, work_seconds: float = 0.0) -> None:
        self.port = port
        self.executions = folder / "executions.jsonl"
        self.work_seconds = work_seconds
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until it serves its card."""
        env = {**os.environ, "REMOTE_WORK_SECONDS": str(self.work_seconds)}
        args = [sys.executable, str(REMOTE), str(self.port), str(self.executions)]
        self.process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
        card = f"http://127.0.0.1:{self.port}/.well-known/agent-card.json"
        for _ in range(200):
            try:
                if httpx.get(card, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("the remote agent did not start")

    def stop(self) -> None:
        """Stop it (SIGTERM); nothing but an expected disconnect in what it logged."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            _, stderr = self.process.communicate(timeout=10)
            # The SDK logs a request whose client was SIGKILLed mid-body as an
            # unhandled ClientDisconnect (with its traceback): expected here, nothing else.
            text = stderr.decode()
            assert text.count("Traceback") == text.count("ClientDisconnect()"), text

    def acted_on(self) -> Counter[str]:
        """How many times the agent started work, per idempotency key (handoff id)."""
        if not self.executions.exists():
            return Counter()
        lines = self.executions.read_text().splitlines()
        return Counter(json.loads(line)["key"] for line in lines)
