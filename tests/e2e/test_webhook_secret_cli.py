"""``handoff agents webhook-secret``: set, rotate, list, remove; never in the log or export."""

from __future__ import annotations

from typing import Any

from conftest import CLI

from handoff_ledger.adapters.services import vocabulary as v
from handoff_ledger.adapters.services.webhook_secrets import WebhookSecrets
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views

PROTOCOL = '[agents.inbox_monitor]\n[agents.code_agent]\n[agents."human:me"]\n'


def prepare(cli: CLI) -> None:
    """The protocol and one acked handoff, written in-process (a process each costs seconds)."""
    ledger = open_ledger(cli.url, create=True)
    try:
        ledger.apply_protocol(PROTOCOL, source="handoff.toml", by="human:me")
        sent = ledger.send(sender="human:me", to="code_agent").handoff
        ledger.ack(sent.id, by="code_agent")
    finally:
        ledger.close()


def stored_secrets(cli: CLI) -> int:
    ledger = open_ledger(cli.url)
    try:
        return len(WebhookSecrets(ledger, Views(ledger).store).listing())
    finally:
        ledger.close()


def keys_of(document: dict[str, Any], typed: Any) -> None:
    assert set(document) == set(typed.__annotations__), (document, typed)


def test_set_rotate_list_remove_and_the_secret_stays_out_of_log_and_export(
    sqlite_cli: CLI,
) -> None:
    # One store: the table's SQL runs on both in tests/integration/test_signed_webhooks.py.
    cli = sqlite_cli
    prepare(cli)
    before = cli.stored()
    first = cli.json("agents", "webhook-secret", "set", "human:me")
    keys_of(first, v.WebhookSecretSet)
    assert first["secret"].startswith("whsec_")
    assert first["previous_valid_until"] is None
    second = cli.json("agents", "webhook-secret", "set", "human:me", "--keep-old", "2h")
    assert second["previous_valid_until"] is not None
    assert second["secret"] != first["secret"]
    assert cli.stored() == before  # no event: the secrets live in a table of their own
    listed = cli.json("agents", "webhook-secret", "list")
    keys_of(listed, v.WebhookSecretList)
    for entry in listed["secrets"]:
        keys_of(entry, v.WebhookSecretEntry)
    assert [s["expires_at"] is None for s in listed["secrets"]] == [True, False]
    shown = cli.run("log", "--json").stdout + cli.run("export").stdout + str(listed)
    for secret in (first["secret"], second["secret"]):
        assert secret not in shown
        assert secret.removeprefix("whsec_")[:16] not in shown
    removed = cli.json("agents", "webhook-secret", "remove", "human:me", "--old")
    keys_of(removed, v.WebhookSecretsRemoved)
    assert removed == {"agent": "human:me", "removed": 1}
    assert cli.json("agents", "webhook-secret", "remove", "human:me")["removed"] == 1
    assert stored_secrets(cli) == 0


def test_bad_input_is_exit_2_and_writes_nothing(sqlite_cli: CLI) -> None:
    prepare(sqlite_cli)
    for args, said in [
        (("ghost",), "ghost"),
        (("human:me", "--secret", "whsec_c2hvcnQ="), "24 to 64"),
    ]:
        done = sqlite_cli.run("agents", "webhook-secret", "set", *args, expect=2)
        assert said in done.stderr
    assert stored_secrets(sqlite_cli) == 0
