"""Signed webhooks: a receiver verifies each delivery with the `standardwebhooks` library.

The receiver keeps each request's raw body and headers; verification runs with the
library's own ``Webhook.verify`` at the ledger's time (freezegun), so a timestamp
is judged against the clock the delivery was made by.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.webhook_secrets import WebhookSecrets, signature_headers
from handoff_ledger.domain.errors import InvalidInput, UnknownAgent


class Receiver:
    """A loopback endpoint that keeps each POST's raw body and headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((body, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def reactor(ledger: Ledger, receiver: Receiver) -> Iterator[Reactor]:
    ledger.apply_protocol(
        f'allow_private_webhooks = true\n[agents.code_agent]\n[agents."human:me"]\n'
        f'webhook = "{receiver.url}"\n',
        source="handoff.toml",
        by="human:me",
    )
    found = Reactor(ledger)
    yield found
    found.close()


def deliver_one(
    ledger: Ledger, reactor: Reactor, receiver: Receiver
) -> tuple[bytes, dict[str, str]]:
    """One broadcast to human:me (an ack of its handoff), delivered; its request."""
    before = len(receiver.requests)
    sent = ledger.send(sender="human:me", to="code_agent").handoff
    ledger.ack(sent.id, by="code_agent")
    reactor.run_once()
    assert len(receiver.requests) == before + 1
    return receiver.requests[-1]


def verify(secret: str, body: bytes, headers: dict[str, str], at: Any) -> Any:
    with freeze_time(at):
        return Webhook(secret).verify(body, headers)


def test_a_receiver_verifies_with_the_library_and_rejects_a_tampered_body_or_old_timestamp(
    ledger: Ledger, clock: SimulatedClock, reactor: Reactor, receiver: Receiver
) -> None:
    secret = WebhookSecrets(ledger, reactor.views.store).set("human:me", None)
    body, headers = deliver_one(ledger, reactor, receiver)
    document = verify(secret, body, headers, clock.now())
    assert document["agent"] == "human:me"
    assert document["notification"]["type"] == "Acked"
    assert headers["webhook-id"] == headers["Idempotency-Key"]
    assert headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    tampered = body.replace(b'"Acked"', b'"Completed"')
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(secret, tampered, headers, clock.now())
    with pytest.raises(WebhookVerificationError, match="too old"):  # replayed 6 minutes on
        verify(secret, body, headers, clock.now() + timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify(
            secret,
            body,
            {**headers, "webhook-timestamp": str(int(clock.now().timestamp()) - 1)},
            clock.now(),
        )
    other = WebhookSecrets(ledger, reactor.views.store).set("code_agent", None)
    with pytest.raises(WebhookVerificationError):  # another agent's secret signs nothing here
        verify(other, body, headers, clock.now())


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
    ledger: Ledger, clock: SimulatedClock, reactor: Reactor, receiver: Receiver
) -> None:
    secrets = WebhookSecrets(ledger, reactor.views.store)
    old = secrets.set("human:me", None)
    new = secrets.set("human:me", None, keep_old=timedelta(hours=1))
    body, headers = deliver_one(ledger, reactor, receiver)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, body, headers, clock.now())  # receivers not yet switched still verify
    verify(new, body, headers, clock.now())
    clock.advance(timedelta(hours=1, seconds=1))
    body, headers = deliver_one(ledger, reactor, receiver)
    assert len(headers["webhook-signature"].split(" ")) == 1
    verify(new, body, headers, clock.now())
    with pytest.raises(WebhookVerificationError):
        verify(old, body, headers, clock.now())
    assert [s.expires_at for s in secrets.listing()] == [None]
    assert secrets.remove("human:me") == 2  # the expired one is still a row until the next set
    body, headers = deliver_one(ledger, reactor, receiver)
    assert "webhook-signature" not in {k.lower() for k in headers}  # unsigned again


def test_remove_old_ends_a_rotation_at_once(
    ledger: Ledger, clock: SimulatedClock, reactor: Reactor, receiver: Receiver
) -> None:
    secrets = WebhookSecrets(ledger, reactor.views.store)
    old = secrets.set("human:me", None)
    new = secrets.set("human:me", None)
    assert secrets.remove("human:me", old_only=True) == 1
    body, headers = deliver_one(ledger, reactor, receiver)
    verify(new, body, headers, clock.now())
    with pytest.raises(WebhookVerificationError):
        verify(old, body, headers, clock.now())


def test_secrets_are_checked_and_agents_declared(ledger: Ledger, reactor: Reactor) -> None:
    secrets = WebhookSecrets(ledger, reactor.views.store)
    with pytest.raises(InvalidInput, match="whsec_"):
        secrets.set("human:me", "whsec_c2hvcnQ=")  # 5 bytes
    with pytest.raises(InvalidInput, match="whsec_"):
        secrets.set("human:me", "hunter2hunter2hunter2hunter2hunter2")
    with pytest.raises(UnknownAgent):
        secrets.set("ghost", None)
    assert secrets.listing() == []


def test_the_signature_is_the_specifications_hmac() -> None:
    # The specification's example (standard-webhooks spec, "Signature scheme").
    headers = signature_headers(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, tz=UTC),
        '{"test": 2432232314}',
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"
