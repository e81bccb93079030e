"""The A2A face against the REST API it wraps, on one ``handoff serve``, same run.

Two comparisons, each a sequential client (one request at a time, keep-alive
HTTP/1.1 on loopback), alternating A2A and REST round by round so that whatever else
the machine runs weighs on both alike; each side's latency is its median over all
rounds:

1. **send**: a non-blocking ``SendMessage`` (JSON-RPC at ``/a2a/code_agent``,
   ``returnImmediately``) against ``POST /handoffs``: one handoff each;
2. **answered**: a blocking ``SendMessage``, answered by the receiver with an
   immediate ack + complete over REST, against ``POST /handoffs`` + ack + complete
   over REST. The receiver of the A2A side learns the task id as an A2A client
   cannot tell it: the sender's idempotency key fixes it (``Handoff.id_for_key``),
   so the receiver retries its ack every 2 ms until the handoff exists. The time is
   from the send to the blocking answer (completed).

Requests are plain JSON over httpx on both sides (the SDK client's own protobuf work
would be measured otherwise): what is compared is the server.

Target (issue 17): A2A / REST <= 1.3 on each.

    .venv/bin/python bench/a2a.py [--stores sqlite,postgresql] [--rounds 5] [--count 40]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import httpx
from common import scratch_store
from http_lifecycle import percentile, start_server, tree_cpu_seconds

from handoff_ledger.adapters.ledger.tokens import issue_token
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.handoff import Handoff

BUG = {"email_id": "msg_123", "customer": "jane@company.com", "issue": "Login button"}


def rpc(text: str, *, blocking: bool, key: str | None = None) -> dict[str, object]:
    metadata = {"urn:handoff-ledger:a2a:ledger:v1": {"key": key}} if key else {}
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": uuid.uuid4().hex,
                "role": "ROLE_USER",
                "parts": [{"text": text}, {"data": BUG}],
                "metadata": metadata,
            },
            "configuration": {"returnImmediately": not blocking},
        },
    }


class Sides:
    """The two sides' clients: the sender's and the receiver's."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.misses = 0
        """The receiver's acks that came before the handoff existed (A2A side)."""
        headers = {"A2A-Version": "1.0"}
        self.sender = httpx.Client(
            base_url=base,
            timeout=60,
            headers={**headers, "Authorization": f"Bearer {tokens['inbox_monitor']}"},
        )
        self.receiver = httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {tokens['code_agent']}"}
        )

    def rest_send(self) -> str:
        answer = self.sender.post(
            "/handoffs", json={"to": "code_agent", "trigger": "Bug", "payload": BUG}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def a2a_send(self) -> None:
        answer = self.sender.post("/a2a/code_agent", json=rpc("Bug", blocking=False))
        assert answer.json()["result"]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"

    def answer(self, handoff_id: str, *, retry: bool = False) -> None:
        while True:
            acked = self.receiver.post(f"/handoffs/{handoff_id}/ack", json={})
            if acked.status_code == 200 or not retry:
                break
            self.misses += 1
            time.sleep(0.002)
        assert acked.status_code == 200, acked.text
        done = self.receiver.post(f"/handoffs/{handoff_id}/complete", json={"result": {"ok": True}})
        assert done.status_code == 200, done.text

    def rest_answered(self) -> None:
        self.answer(self.rest_send())

    def a2a_answered(self) -> None:
        key = uuid.uuid4().hex
        handoff_id = str(Handoff.id_for_key("inbox_monitor", key))
        receiver = threading.Thread(target=self.answer, args=(handoff_id,), kwargs={"retry": True})
        receiver.start()
        answer = self.sender.post("/a2a/code_agent", json=rpc("Bug", blocking=True, key=key))
        receiver.join()
        assert answer.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def timed(action: object, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure(backend: str, rounds: int, count: int) -> None:
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        tokens = {agent: issue_token(ledger, agent) for agent in ("inbox_monitor", "code_agent")}
        ledger.close()
        server, base = start_server(url)
        try:
            sides = Sides(base, tokens)
            for warm in (sides.rest_send, sides.a2a_send, sides.rest_answered, sides.a2a_answered):
                timed(warm, 5)
            for name, a2a, rest in (
                (
                    "send (non-blocking SendMessage vs POST /handoffs)",
                    sides.a2a_send,
                    sides.rest_send,
                ),
                (
                    "answered (blocking SendMessage vs POST + ack + complete)",
                    sides.a2a_answered,
                    sides.rest_answered,
                ),
            ):
                a2a_ms: list[float] = []
                rest_ms: list[float] = []
                cpu = {"a2a": 0.0, "rest": 0.0}
                ratios = []
                for _ in range(rounds):
                    before = tree_cpu_seconds(server.pid)
                    a = timed(a2a, count)
                    middle = tree_cpu_seconds(server.pid)
                    r = timed(rest, count)
                    cpu["a2a"] += middle - before
                    cpu["rest"] += tree_cpu_seconds(server.pid) - middle
                    a2a_ms += a
                    rest_ms += r
                    ratios.append(statistics.median(a) / statistics.median(r))
                ratio = statistics.median(a2a_ms) / statistics.median(rest_ms)
                n = rounds * count
                misses, sides.misses = sides.misses, 0
                print(
                    f"{backend:10} {name}: A2A p50 {statistics.median(a2a_ms):6.1f} ms "
                    f"(p99 {percentile(a2a_ms, 0.99):6.1f}), REST p50 {statistics.median(rest_ms):6.1f} ms "
                    f"(p99 {percentile(rest_ms, 0.99):6.1f}); ratio {ratio:.2f} "
                    f"(rounds {min(ratios):.2f}-{max(ratios):.2f}) {'OK' if ratio <= 1.3 else 'OVER 1.3'}; "
                    f"server CPU ms/op A2A {cpu['a2a'] * 1000 / n:.1f}, REST {cpu['rest'] * 1000 / n:.1f}"
                    + (f"; early acks (404) per op {misses / n:.1f}" if misses else ""),
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=40)
    options = parser.parse_args()
    for backend in options.stores.split(","):
        measure(backend, options.rounds, options.count)


if __name__ == "__main__":
    main()
