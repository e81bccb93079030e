"""Group commit in ``handoff serve`` (issue 25 item 1), on both stores.

Fifty HTTP clients race to complete ten handoffs (five each, released by a barrier):
one winner per handoff, the others refused. Then fifty clients send as fast as the
server answers, and the server is SIGKILLed while they do: every send it answered
is in the log once, and the log is whole (``audit verify``: every handoff's events
consecutive, every hash right), so no save was half-written. On PostgreSQL the log
also shows that the server's saves went together (several handoffs created in one
transaction: one transaction id in their positions).
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.store.log_format import RANK_BITS
from handoff_ledger.domain.handoff import Handoff
from tests.e2e.conftest import CLI
from tests.e2e.test_http import start_server
from tests.waiting import eventually

CLIENTS = 50
RACED = 10
ANSWERED_BEFORE_KILL = 300


def test_fifty_clients_race_and_a_server_killed_mid_stream_loses_no_answered_save(
    store_url: str, tmp_path: Path
) -> None:
    cli = CLI(store_url, tmp_path)
    tokens = cli.issue_tokens("inbox_monitor", "code_agent")
    process, url = start_server(cli)

    def client(agent: str) -> httpx.Client:
        return httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {tokens[agent]}"}, timeout=30
        )

    answered: list[str] = []
    try:
        with client("inbox_monitor") as inbox, client("code_agent") as coder:
            ids = [
                inbox.post("/handoffs", json={"to": "code_agent"}).json()["id"]
                for _ in range(RACED)
            ]
            for hid in ids:
                assert coder.post(f"/handoffs/{hid}/ack", json={}).status_code == 200
        barrier = threading.Barrier(CLIENTS)

        def complete(index: int) -> tuple[str, int]:
            hid = ids[index % RACED]
            with client("code_agent") as racer:
                barrier.wait()
                done = racer.post(f"/handoffs/{hid}/complete", json={"result": {"racer": index}})
                return hid, done.status_code

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            codes = list(pool.map(complete, range(CLIENTS)))
        for hid in ids:
            assert Counter(code for h, code in codes if h == hid) == Counter({200: 1, 409: 4})

        stop = threading.Event()
        lock = threading.Lock()

        def send(index: int) -> None:
            with client("inbox_monitor") as sender:
                n = 0
                while not stop.is_set():
                    try:
                        sent = sender.post(
                            "/handoffs",
                            json={"to": "code_agent", "payload": {"client": index, "n": n}},
                        )
                    except httpx.TransportError:
                        return  # the server is gone
                    assert sent.status_code == 201, sent.text
                    with lock:
                        answered.append(sent.json()["id"])
                    n += 1

        senders = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
        for thread in senders:
            thread.start()
        assert eventually(lambda: len(answered) >= ANSWERED_BEFORE_KILL, 120)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        stop.set()
        for thread in senders:
            thread.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()

    ledger = open_ledger(store_url)
    offset = getattr(ledger.recorder, "position_offset", 0)
    try:
        created = [
            entry
            for entry in ledger.read_log()
            if isinstance(entry.event, Handoff.Created)
            and str(entry.event.originator_id) not in ids
        ]
    finally:
        ledger.close()
    logged = Counter(str(entry.event.originator_id) for entry in created)
    assert set(logged.values()) == {1}
    missing = set(answered) - set(logged)
    assert not missing, f"{len(missing)} answered sends not in the log"
    assert len(logged) >= len(answered)  # sends committed but not answered may be there too
    verified = cli.run("audit", "verify", expect=None)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    if store_url.startswith("postgresql"):
        per_transaction = Counter((entry.position - offset) >> RANK_BITS for entry in created)
        assert max(per_transaction.values()) >= 2, "the server never saved two sends together"
