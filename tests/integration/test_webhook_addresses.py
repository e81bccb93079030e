"""Webhooks go to public addresses only, unless the protocol allows private ones.

An agent declares its own webhook URL; without a guard the reactor would POST
wherever it points: 127.0.0.1, a cloud's metadata service at 169.254.169.254, a
database on 10.x. Refused deliveries are recorded like failures (the reason in
``last_error``) and never tried again; ``allow_private_webhooks = true`` lets them
through. Nothing here sends anything to a private address other than loopback
receivers of the test's own.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.webhook_guard import WebhookRefused, resolve

ALLOW = "allow_private_webhooks = true\n"


class Receiver:
    """A loopback HTTP endpoint (IPv4 or IPv6) that answers every POST with a 204."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append({"host": self.headers["Host"], **body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def v4() -> Iterator[Receiver]:
    receiver = Receiver("127.0.0.1")
    yield receiver
    receiver.close()


@pytest.fixture
def v6() -> Iterator[Receiver]:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    receiver = Receiver("::1")
    yield receiver
    receiver.close()


def with_webhook(url: str, *, allow: bool) -> str:
    return (ALLOW if allow else "") + (
        f'[agents.inbox_monitor]\n[agents.code_agent]\n[agents."human:me"]\nwebhook = "{url}"\n'
    )


def broadcast(ledger: Ledger, url: str, *, allow: bool) -> None:
    """Apply a protocol giving human:me the webhook ``url``, then ack one of its handoffs."""
    ledger.apply_protocol(with_webhook(url, allow=allow), source="handoff.toml", by="human:me")
    sent = ledger.send(sender="human:me", to="code_agent").handoff
    ledger.ack(sent.id, by="code_agent")


PRIVATE = {
    "loopback": "http://127.0.0.1:{v4}/hook",
    "loopback by name": "http://localhost:{v4}/hook",
    "link-local (cloud metadata)": "http://169.254.169.254/latest/meta-data",
    "private 10.x": "http://10.0.0.1/hook",
    "private 192.168.x": "https://192.168.1.10/hook",
    "shared address space": "http://100.64.0.1/hook",
    "IPv4-mapped loopback": "http://[::ffff:127.0.0.1]:{v4}/hook",
    "IPv6 loopback": "http://[::1]:{v4}/hook",
    "unspecified": "http://0.0.0.0:{v4}/hook",
}


@pytest.mark.parametrize("where", list(PRIVATE))
def test_a_private_webhook_is_refused_without_the_flag_and_never_retried(
    ledger: Ledger, clock: SimulatedClock, v4: Receiver, where: str
) -> None:
    url = PRIVATE[where].format(v4=v4.port)
    broadcast(ledger, url, allow=False)
    reactor = Reactor(ledger)
    try:
        (attempt,) = reactor.run_once().deliveries
        assert attempt.refused
        assert not attempt.delivered
        assert attempt.error is not None
        assert attempt.error.startswith("refused: ")
        assert "allow_private_webhooks" in attempt.error
        for _ in range(5):  # hours pass: a refused delivery is not tried again
            clock.advance(timedelta(hours=1))
            assert reactor.run_once().deliveries == []
        (status,) = reactor.deliveries.status()
        assert (status.agent, status.delivered, status.pending, status.failing) == (
            "human:me",
            0,
            1,
            1,
        )
        assert status.last_error == attempt.error
        assert status.next_attempt is None  # nothing scheduled: it will not be retried
    finally:
        reactor.close()
    assert v4.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_webhook_is_delivered_with_the_flag(
    ledger: Ledger, v4: Receiver, host: str
) -> None:
    broadcast(ledger, f"http://{host}:{v4.port}/hook", allow=True)
    reactor = Reactor(ledger)
    try:
        (attempt,) = reactor.run_once().deliveries
    finally:
        reactor.close()
    assert attempt.delivered, attempt.error
    (request,) = v4.requests
    assert request["host"] == f"{host}:{v4.port}"
    assert request["agent"] == "human:me"


def test_an_ipv6_loopback_webhook_is_refused_without_the_flag_and_delivered_with_it(
    ledger: Ledger, v6: Receiver
) -> None:
    url = f"http://[::1]:{v6.port}/hook"
    broadcast(ledger, url, allow=False)
    reactor = Reactor(ledger)
    try:
        (refused,) = reactor.run_once().deliveries
        assert refused.refused
        assert v6.requests == []
        broadcast(ledger, url, allow=True)
        delivered = reactor.run_once().deliveries
    finally:
        reactor.close()
    assert [a.delivered for a in delivered] == [True]  # the new entry; the refused one stays
    assert len(v6.requests) == 1


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest", "http://10.0.0.1/hook", "http://[fd00::1]/hook"]
)
def test_the_flag_lets_any_private_address_through(url: str) -> None:
    with pytest.raises(WebhookRefused):
        resolve(url, allow_private=False)
    target = resolve(url, allow_private=True)  # checked only: nothing is sent there
    assert target.url == url


def test_a_name_is_resolved_once_and_the_post_goes_to_the_checked_address() -> None:
    with pytest.raises(WebhookRefused) as refused:
        resolve("http://localhost:8080/hook", allow_private=False)
    assert "localhost resolves to 127.0.0.1, a loopback address" in str(refused.value)
    # Numeric host names the resolver reads as addresses (an old way around such
    # checks): 2130706433 and 0x7f.1 are 127.0.0.1, 134744072 is 8.8.8.8.
    for sneaky in ("http://2130706433:9/hook", "http://0x7f.1/hook"):
        with pytest.raises(WebhookRefused, match=r"resolves to 127\.0\.0\.1"):
            resolve(sneaky, allow_private=False)
    # The POST goes to the address that was checked; the name stays in Host and SNI.
    target = resolve("https://134744072:8443/hook", allow_private=False)
    assert target.url == "https://8.8.8.8:8443/hook"
    assert target.headers == {"Host": "134744072:8443"}
    assert target.extensions == {"sni_hostname": "134744072"}
