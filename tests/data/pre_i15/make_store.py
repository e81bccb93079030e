"""Make ``store.db``: a store written by the code before issue 15 (commit a460331).

Run with that code's ``handoff`` on PATH, in an empty folder:

    python make_store.py

It records what that code accepted and today's code refuses at its boundary: a
payload nested 500 levels deep and a result nested 300 deep (which that code could
then no longer show), 25 escalation targets, a sub-microsecond ``ack_within``;
around them an ordinary handoff's whole lifecycle, a note and a watch, so that
reading past the deep events shows every other one intact.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path.cwd()
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLOCK = HERE / "clock"


def at(minutes: int) -> None:
    CLOCK.write_text((START + timedelta(minutes=minutes)).isoformat())


def handoff(*args: str) -> dict[str, object]:
    env = {**os.environ, "HANDOFF_DB": f"sqlite:///{HERE / 'store.db'}"}
    env["HANDOFF_CLOCK"] = f"file:{CLOCK}"
    done = subprocess.run(
        ["handoff", *args, "--json"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[0]) if done.stdout.strip() else {}


def nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"bottom": True}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def main() -> None:
    (HERE / "deep.json").write_text(json.dumps(nested(500)))
    (HERE / "deep-result.json").write_text(json.dumps(nested(300)))
    at(0)
    plain = handoff("send", "--from", "inbox_monitor", "--to", "code_agent",
                    "--trigger", "Bug report detected", "--payload", '{"email_id": "msg_1"}',
                    "--ack-within", "1h", "--escalate-to", "human:me")["id"]  # fmt: skip
    at(1)
    deep = handoff("send", "--from", "inbox_monitor", "--to", "code_agent",
                   "--trigger", "deep", "--payload", "@deep.json",
                   "--escalate-to", "human:me")["id"]  # fmt: skip
    at(2)
    handoff("ack", str(plain), "--as", "code_agent", "--eta", "2h", "--next-update", "30m")
    handoff("watch", str(deep), "--as", "support_agent")
    at(3)
    handoff("note", str(deep), "--as", "support_agent", "--message", "seen it")
    handoff("status", str(plain), "--as", "code_agent", "--status", "progress")
    at(4)
    handoff("complete", str(deep), "--as", "code_agent", "--result", "@deep-result.json")
    at(5)
    targets = [arg for n in range(25) for arg in ("--escalate-to", f"watcher_{n}")]
    handoff("send", "--from", "support_agent", "--to", "code_agent", "--trigger", "many",
            *targets)  # fmt: skip
    handoff("send", "--from", "support_agent", "--to", "code_agent", "--trigger", "instant",
            "--ack-within", "0.0000001s")  # fmt: skip
    at(6)
    handoff("complete", str(plain), "--as", "code_agent", "--result", '{"fix": "PR #1"}')
    at(7)
    handoff("inbox", "code_agent")  # the views caught up to here
    (HERE / "ids.json").write_text(json.dumps({"plain": plain, "deep": deep}))


if __name__ == "__main__":
    main()
