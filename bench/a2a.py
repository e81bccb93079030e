"""The A2A face against the REST API it wraps, on one ``handoff serve``, same run.

Two comparisons, each a sequential client (one request at a time, keep-alive
HTTP/1.1 on loopback), alternating A2A and REST round by round so that whatever else
the machine runs weighs on both alike; each side's latency is its median over all
rounds:

1. **send**: a non-blocking ``SendMessage`` (JSON-RPC at ``/a2a/code_agent``,
   ``returnImmediately``) against ``POST /handoffs``: one handoff each;
2. **answered**: a blocking ``SendMessage``, answered by the receiver with an
   immediate ack + complete over REST, against ``POST /handoffs`` + ack + complete
   over REST. On both sides the receiver takes its work as a receiver does, with
   ``GET /agents/{name}/next?wait=30s`` (the take is the ack; it waits before the
   send), then completes it; both sides go to ``support_agent``, whose queue holds
   nothing else. The time is from the send to the blocking answer (A2A), or to the
   completion's answer (REST). ``--receiver retry`` is the earlier way: REST's
   client acks and completes right after its send, while the A2A side's receiver,
   which cannot be told the task id before the blocking answer, retries its ack
   every 2 ms on the id the sender's idempotency key fixes (``Handoff.id_for_key``)
   until the handoff exists (about one 404 per lifecycle).

Requests are plain JSON over httpx on both sides (the SDK client's own protobuf work
would be measured otherwise): what is compared is the server.

Target (issue 17): A2A / REST <= 1.3 on each.

    .venv/bin/python bench/a2a.py [--stores sqlite,postgresql] [--rounds 5] [--count 40]
        [--receiver take|retry]
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

ANSWERER = "support_agent"
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

    def __init__(self, base: str, tokens: dict[str, str], *, taking: bool = False) -> None:
        self.base = base
        self.taking = taking
        """The A2A receiver takes its work with ``GET next?wait=`` (which acks) instead
        of retrying its ack on the key's id; both sides answer as ``answerer``."""
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
        self.answerer = httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {tokens[ANSWERER]}"}
        )
        self.to = ANSWERER if taking else "code_agent"
        """Whom the answered lifecycles go to: with ``taking``, an agent whose queue
        holds nothing else (the sends of the first comparison stay in code_agent's)."""

    def rest_send(self, to: str = "code_agent") -> str:
        answer = self.sender.post("/handoffs", json={"to": to, "trigger": "Bug", "payload": BUG})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def a2a_send(self) -> None:
        answer = self.sender.post("/a2a/code_agent", json=rpc("Bug", blocking=False))
        assert answer.json()["result"]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED"

    def answer(self, handoff_id: str, *, retry: bool = False) -> None:
        receiver = self.answerer if self.taking else self.receiver
        if self.taking and retry:  # the A2A side: take it (the take is the ack)
            self._take_and_complete([handoff_id])
            return
        while True:
            acked = receiver.post(f"/handoffs/{handoff_id}/ack", json={})
            if acked.status_code == 200 or not retry:
                break
            self.misses += 1
            time.sleep(0.002)
        assert acked.status_code == 200, acked.text
        done = receiver.post(f"/handoffs/{handoff_id}/complete", json={"result": {"ok": True}})
        assert done.status_code == 200, done.text

    def rest_answered(self) -> None:
        if not self.taking:
            self.answer(self.rest_send(self.to))
            return
        # The same lifecycle as the A2A side's: the receiver waits for its work with
        # ``GET next`` (the take is the ack) and completes it, while the sender sends.
        sent: list[str] = []
        receiver = threading.Thread(target=self._take_and_complete, args=(sent,))
        receiver.start()
        sent.append(self.rest_send(self.to))
        receiver.join()

    def _take_and_complete(self, sent: list[str]) -> None:
        taken = self.answerer.get(f"/agents/{ANSWERER}/next", params={"wait": "30s"})
        assert taken.status_code == 200, taken.text
        handoff_id = taken.json()["id"]
        done = self.answerer.post(f"/handoffs/{handoff_id}/complete", json={"result": {"ok": True}})
        assert done.status_code == 200, done.text

    def a2a_answered(self) -> None:
        key = uuid.uuid4().hex
        handoff_id = str(Handoff.id_for_key("inbox_monitor", key))
        receiver = threading.Thread(target=self.answer, args=(handoff_id,), kwargs={"retry": True})
        receiver.start()
        answer = self.sender.post(f"/a2a/{self.to}", json=rpc("Bug", blocking=True, key=key))
        receiver.join()
        assert answer.json()["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def timed(action: object, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure(backend: str, rounds: int, count: int, *, taking: bool) -> None:
    with scratch_store(backend) as url:
        ledger = open_ledger(url)
        agents = ("inbox_monitor", "code_agent", ANSWERER)
        tokens = {agent: issue_token(ledger, agent) for agent in agents}
        ledger.close()
        server, base = start_server(url)
        try:
            sides = Sides(base, tokens, taking=taking)
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
    parser.add_argument(
        "--receiver",
        choices=("take", "retry"),
        default="take",
        help="how the A2A side's receiver finds its task: GET next?wait= (take), or its ack "
        "retried every 2 ms on the id the sender's key fixes (retry, the earlier bench)",
    )
    options = parser.parse_args()
    for backend in options.stores.split(","):
        measure(backend, options.rounds, options.count, taking=options.receiver == "take")


if __name__ == "__main__":
    main()
