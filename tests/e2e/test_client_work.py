"""The client's ``next`` and ``work`` loop against a real ``handoff serve`` (both stores)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_client import Server, server

from handoff_ledger.client import Decline, Fail, Forbidden, Job

WORK_LOOP = Path(__file__).with_name("work_loop.py")
__all__ = ["server"]  # test_client.py's fixture: the module's server, the test's own agents


def send(server: Server, count: int, **fields: Any) -> list[str]:
    with server.client("inbox_monitor") as inbox:
        return [inbox.send(to=server.name("code_agent"), **fields)["id"] for _ in range(count)]


def log(server: Server) -> list[dict[str, Any]]:
    """The log since the test began (the store is the module's)."""
    with server.client("human:me") as admin:
        return list(admin.iter_log(since=server.mark))


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def promises_kept(entries: list[dict[str, Any]], hid: str) -> list[str]:
    """Each of ``hid``'s moves after its ack came before the update then promised."""
    broken, promise = [], None
    for entry in (e for e in entries if e["handoff_id"] == hid):
        if promise is not None and when(entry["at"]) > promise:
            broken.append(f"{entry['type']} at {entry['at']} after {promise}")
        if entry.get("update_due"):
            promise = when(entry["update_due"])
    return broken


def test_next_takes_the_head_and_answers_none_when_there_is_nothing(server: Server) -> None:
    with server.client("code_agent") as coder:
        code_agent = server.name("code_agent")
        assert coder.next(code_agent) is None
        started = time.monotonic()
        assert coder.next(code_agent, wait="1s") is None
        assert time.monotonic() - started >= 0.9
        [hid] = send(server, 1)
        taken = coder.next(code_agent, worker="w1", eta="1h", next_update="10m")
        assert taken is not None
        assert (taken["id"], taken["taken"], taken["worker"]) == (hid, "taken", "w1")
        again = coder.next(code_agent, worker="w1")
        assert again is not None
        assert (again["id"], again["taken"]) == (hid, "resumed")
        assert coder.next(code_agent, worker="w2") is None
        with pytest.raises(Forbidden):
            coder.next(server.name("support_agent"))


def test_a_work_loop_completes_every_handoff_once(server: Server) -> None:
    ids = send(server, 12)
    seen: list[str] = []

    def handler(job: Job) -> dict[str, Any]:
        seen.append(job.worker)
        time.sleep(0.05)
        return {"done": job.id}

    with server.client("code_agent") as coder:
        counts = coder.work(handler, agent=server.name("code_agent"), worker="fixer",
                            concurrency=3, until_idle=1.0)  # fmt: skip
    assert counts == Counter(completed=12)
    entries = log(server)
    completed = Counter(e["handoff_id"] for e in entries if e["type"] == "Completed")
    assert completed == Counter(dict.fromkeys(ids, 1))
    results = {e["handoff_id"]: e["result"] for e in entries if e["type"] == "Completed"}
    assert all(results[hid] == {"done": hid} for hid in ids)
    workers = {e["worker"] for e in entries if e["type"] == "Acked"}
    assert workers <= {"fixer-1", "fixer-2", "fixer-3"}
    assert len(workers) >= 2
    assert set(seen) == workers


def test_fail_decline_and_a_crash_become_failed_declined_and_stuck(server: Server) -> None:
    ids = dict(zip(["fail", "decline", "crash", "odd", "done"], send(server, 5), strict=True))
    runs: Counter[str] = Counter()

    def handler(job: Job) -> Any:
        what = next(name for name, hid in ids.items() if hid == job.id)
        runs[what] += 1
        if what == "fail":
            raise Fail("the build server is down", result={"tried": 2})
        if what == "decline":
            raise Decline("not a code change")
        if what == "crash":
            raise KeyError("customer")
        if what == "odd":
            return ["not", "a", "dict"]
        return None

    with server.client("code_agent") as coder:
        counts = coder.work(handler, agent=server.name("code_agent"), until_idle=1.0)
    assert counts == Counter(failed=1, declined=1, stuck=2, completed=1)
    assert runs == Counter(dict.fromkeys(ids, 1))  # the stuck ones were not run again
    with server.client("human:me") as admin:
        shown = {what: admin.get(hid) for what, hid in ids.items()}
    assert (shown["fail"]["state"], shown["fail"]["reason"]) == (
        "failed",
        "the build server is down",
    )
    assert shown["fail"]["result"] == {"tried": 2}
    assert (shown["decline"]["state"], shown["decline"]["reason"]) == (
        "declined",
        "not a code change",
    )
    assert (shown["crash"]["state"], shown["crash"]["status"]) == ("blocked", "stuck")
    assert shown["crash"]["status_message"] == "KeyError: 'customer'"
    assert "Traceback" not in json.dumps(shown)
    assert shown["odd"]["status_message"] == "the handler returned list, not a dict"
    assert (shown["done"]["state"], shown["done"]["result"]) == ("completed", None)


def test_the_update_promise_is_kept_while_a_slow_handler_runs(server: Server) -> None:
    [hid] = send(server, 1)

    def slow(job: Job) -> dict[str, Any]:
        time.sleep(1.5)
        return {"slow": True}

    with server.client("code_agent") as coder:
        counts = coder.work(slow, agent=server.name("code_agent"), next_update="1s", until_idle=0.5)
    assert counts == Counter(completed=1)
    entries = [e for e in log(server) if e["handoff_id"] == hid]
    assert [e["type"] for e in entries][:3] == ["Created", "Acked", "StatusReported"]
    assert entries[2]["status"] == "working"
    assert promises_kept(entries, hid) == []  # every report before the update fell due
    assert entries[-1]["type"] == "Completed"


def test_the_async_loop_runs_async_and_plain_handlers_and_reports_progress(
    server: Server,
) -> None:
    ids = send(server, 2)

    async def handler(job: Job) -> dict[str, Any]:
        job.progress("halfway")
        await asyncio.sleep(1.2)
        return {"async": True}

    def plain(job: Job) -> dict[str, Any]:
        job.progress("plain halfway")
        time.sleep(1.2)
        return {"plain": True}

    code_agent = server.name("code_agent")

    async def scenario() -> tuple[Counter[str], Counter[str]]:
        async with server.aclient("code_agent") as coder:
            first = await coder.work(handler, agent=code_agent, worker="a", concurrency=2,
                                     until_idle=0.3, next_update="1m")  # fmt: skip
            ids.extend(send(server, 2))
            second = await coder.work(plain, agent=code_agent, worker="p", concurrency=2,
                                      until_idle=0.3, next_update="1m")  # fmt: skip
            return first, second

    assert asyncio.run(scenario()) == (Counter(completed=2), Counter(completed=2))
    entries = log(server)
    progress = [e for e in entries if e["type"] == "StatusReported"]
    assert {e["status"] for e in progress} == {"progress"}
    assert Counter(e["message"] for e in progress) == {"halfway": 2, "plain halfway": 2}
    assert len(progress) == 4
    assert all(promises_kept(entries, hid) == [] for hid in ids)


def test_a_stop_event_ends_the_loop(server: Server) -> None:
    stop_now = threading.Event()
    threading.Timer(0.5, stop_now.set).start()
    started = time.monotonic()
    with server.client("code_agent") as coder:
        assert (
            coder.work(lambda job: {}, agent=server.name("code_agent"), stop=stop_now) == Counter()
        )
    assert time.monotonic() - started < 5


def test_a_loop_killed_mid_handler_resumes_the_handoff_and_completes_it_once(
    server: Server, tmp_path: Path
) -> None:
    [hid] = send(server, 1, payload={"sleep_first": 60})
    takes = tmp_path / "takes.jsonl"

    def start() -> subprocess.Popen[bytes]:
        agent = server.name("code_agent")
        args = [server.url, server.tokens["code_agent"], agent, "w1", "1", str(takes)]
        return subprocess.Popen([sys.executable, str(WORK_LOOP), *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    first = start()
    for _ in range(200):
        if takes.exists() and takes.read_text():
            break
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    second = start()
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    runs = [json.loads(line) for line in takes.read_text().splitlines()]
    assert [(r["id"], r["taken"]) for r in runs] == [(hid, "taken"), (hid, "resumed")]
    entries = log(server)
    assert [e["type"] for e in entries if e["type"] in ("Acked", "Completed")] == [
        "Acked", "Completed",
    ]  # fmt: skip
