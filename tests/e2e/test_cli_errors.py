"""Bad input exits 2, refusals exit 1; a clear reason, no traceback, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CLI

from handoff_ledger.adapters.cli.seed import SEED_PROTOCOL


def sent_id(cli: CLI) -> str:
    return str(cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"])


def test_ack_by_the_wrong_agent_exits_1_and_writes_nothing(cli: CLI) -> None:
    hid = sent_id(cli)
    before = cli.stored()
    refused = cli.run("ack", hid, "--as", "support_agent", expect=1)
    assert "support_agent cannot ack" in refused.stderr
    assert "only its receiver code_agent" in refused.stderr
    assert refused.stdout == ""
    assert cli.stored() == before


def test_refusal_with_json_is_an_error_document_on_stdout(cli: CLI) -> None:
    hid = sent_id(cli)
    document = cli.json("ack", hid, "--as", "support_agent", expect=1)
    assert document["error"]["code"] == "not_permitted"
    assert "only its receiver" in document["error"]["message"]


def test_any_command_on_a_completed_handoff_exits_1(cli: CLI) -> None:
    hid = sent_id(cli)
    cli.run("complete", hid, "--as", "code_agent")
    before = cli.stored()
    for args in (
        ["ack", hid, "--as", "code_agent"],
        ["status", hid, "--as", "code_agent", "--status", "working"],
        ["complete", hid, "--as", "code_agent"],
        ["decline", hid, "--as", "code_agent", "--reason", "x"],
        ["cancel", hid, "--as", "inbox_monitor", "--reason", "x"],
        ["reassign", hid, "--to", "backup_agent", "--as", "inbox_monitor", "--reason", "x"],
    ):
        assert "it is completed" in cli.run(*args, expect=1).stderr
    assert cli.stored() == before
    # Who you are comes before what state it is in (issue 22): a stranger is told it
    # is not theirs (not_permitted), not that the handoff is closed.
    stranger = cli.json("ack", hid, "--as", "support_agent", expect=1)
    assert stranger["error"]["code"] == "not_permitted"
    cli.run("note", hid, "--as", "human:me", "--message", "noted")


def test_payload_failing_its_schema_exits_2_naming_the_field(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    sqlite_cli.run("protocol", "apply", str(write_file("handoff.toml", SEED_PROTOCOL)))
    before = sqlite_cli.stored()
    bad = sqlite_cli.run(
        "send", "--from", "inbox_monitor", "--kind", "bug_report",
        "--payload", '{"email_id": "msg_123", "issue": "Login"}', expect=2,
    )  # fmt: skip
    assert "payload.customer" in bad.stderr
    document = sqlite_cli.json(
        "send", "--from", "inbox_monitor", "--kind", "bug_report",
        "--payload", '{"email_id": "msg_123", "issue": "Login"}', expect=2,
    )  # fmt: skip
    assert document["error"]["code"] == "payload_invalid"
    assert document["error"]["field"] == "payload.customer"
    assert sqlite_cli.stored() == before


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--payload", '{"email_id": '], "payload: not valid JSON"),
        (["--payload", "[1, 2]"], "payload: must be a JSON object"),
        (["--payload", "@missing.json"], "payload: cannot read file 'missing.json'"),
        (["--ack-within", "soon"], "ack_within: 'soon' is not a duration"),
        (["--deadline", "whenever"], "deadline: 'whenever' is neither a duration"),
        (["--priority", "urgent"], "priority: 'urgent' is not one of"),
        (["--parent", "not-a-uuid"], "parent: 'not-a-uuid' is not a handoff id"),
        (["--escalate-to", "bad name"], "escalate_to: 'bad name' is not an agent name"),
        # Recorded, these would stop every reader of the log (found by the HTTP fuzzer).
        (
            ["--deadline", "9999-12-31T23:59:59-14:00"],
            "deadline: 9999-12-31T23:59:59-14:00 is out of range",
        ),
        (["--payload", '{"issue": "a\\u0000b"}'], "payload.issue: must not contain the NUL"),
    ],
)
def test_malformed_send_input_exits_2_naming_what(
    sqlite_cli: CLI, args: list[str], names: str
) -> None:
    bad = sqlite_cli.run("send", "--from", "inbox_monitor", "--to", "code_agent", *args, expect=2)
    assert names in bad.stderr
    assert sqlite_cli.stored() == []


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["ack", "nope", "--as", "code_agent"], "id: 'nope' is not a handoff id"),
        (
            ["ack", "{id}", "--as", "code_agent", "--eta", "2 hours"],
            "eta: '2 hours' is not a duration",
        ),
        (
            ["ack", "{id}", "--as", "code_agent", "--next-update", "0s"],
            "next_update: '0s' must be longer",
        ),
        (
            ["status", "{id}", "--as", "code_agent", "--status", "sleeping"],
            "status: 'sleeping' is not one of",
        ),
        (["complete", "{id}", "--as", "code_agent", "--result", "{oops"], "result: not valid JSON"),
        (
            ["ack", "00000000-0000-0000-0000-000000000000", "--as", "code_agent"],
            "no handoff has id",
        ),
        (
            ["show", "{id}", "--as-of", "last tuesday"],
            "as_of: 'last tuesday' is not an ISO 8601 time",
        ),
        (["log", "--since", "yesterday"], "since: 'yesterday' is not an ISO 8601 time"),
        (["decline", "{id}", "--as", "code_agent", "--reason", " "], "reason: must not be empty"),
    ],
)
def test_malformed_input_to_other_commands_exits_2(
    sqlite_cli: CLI, args: list[str], names: str
) -> None:
    hid = sent_id(sqlite_cli)
    before = sqlite_cli.stored()
    bad = sqlite_cli.run(*[a.replace("{id}", hid) for a in args], expect=2)
    assert names in bad.stderr
    assert sqlite_cli.stored() == before


def test_usage_errors_exit_2_without_traceback(sqlite_cli: CLI) -> None:
    missing = sqlite_cli.run("ack", expect=2)
    assert "Missing argument" in missing.stderr
    unknown = sqlite_cli.run("send", "--from", "a", "--to", "b", "--colour", "red", expect=2)
    assert "--colour" in unknown.stderr
    document = json.loads(sqlite_cli.run("ack", "--json", expect=2).stdout)
    assert document["error"]["code"] == "usage"


def test_bad_store_url_exits_2(sqlite_cli: CLI) -> None:
    bad = sqlite_cli.run("log", "--db", "mysql://localhost/x", expect=2)
    assert "db: 'mysql://localhost/x' is not a store URL" in bad.stderr
    missing_folder = sqlite_cli.run("log", "--db", "sqlite:///no/such/folder/x.db", expect=2)
    assert "folder no/such/folder does not exist" in missing_folder.stderr


def test_unreachable_postgres_exits_4_store_unavailable(sqlite_cli: CLI) -> None:
    bad = sqlite_cli.run(
        "log", "--db", "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2", expect=4
    )
    assert "store unavailable: postgresql://postgres@127.0.0.1:1/nothing" in bad.stderr


def test_bad_protocol_file_exits_2_with_line_and_writes_nothing(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    sqlite_cli.run("init")  # reads never create a store: `protocol show` needs one
    path = write_file("team.toml", '[agents.a]\n\n[kinds.k]\nto = "ghost"\n')
    bad = sqlite_cli.run("protocol", "apply", str(path), expect=2)
    assert f"{path}:4: kinds.k.to: agent 'ghost' is not declared" in bad.stderr
    assert sqlite_cli.json("protocol", "show")["version"] is None
    unreadable = sqlite_cli.run("protocol", "apply", "nowhere.toml", expect=2)
    assert "file: cannot read 'nowhere.toml'" in unreadable.stderr


def test_unknown_agent_or_kind_under_a_protocol_exits_2(
    sqlite_cli: CLI, write_file: Callable[[str, str], Path]
) -> None:
    sqlite_cli.run("protocol", "apply", str(write_file("handoff.toml", SEED_PROTOCOL)))
    before = sqlite_cli.stored()
    ghost = sqlite_cli.run("send", "--from", "inbox_monitor", "--to", "ghost", expect=2)
    assert "to: agent 'ghost' is not declared" in ghost.stderr
    kind = sqlite_cli.run(
        "send", "--from", "inbox_monitor", "--to", "code_agent", "--kind", "x", expect=2
    )
    assert "kind: 'x' is not declared" in kind.stderr
    assert sqlite_cli.stored() == before


def test_a_short_id_works_and_a_non_id_is_unknown_as_on_every_face(sqlite_cli: CLI) -> None:
    hid = sent_id(sqlite_cli)
    acked = sqlite_cli.json("ack", hid[:8], "--as", "code_agent")
    assert acked["id"] == hid
    assert sqlite_cli.json("show", hid[:13])["id"] == hid
    before = sqlite_cli.stored()
    for given in ("nonsense", hid[:7]):
        error = sqlite_cli.json("complete", given, "--as", "code_agent", expect=2)["error"]
        assert error["code"] == "unknown_handoff"
        assert error["message"] == (
            f"id: {given!r} is not a handoff id (a UUID, or its first 8 or more hex digits)"
        )
    assert sqlite_cli.stored() == before


def test_help_groups_commands_and_reads_plainly(sqlite_cli: CLI) -> None:
    top = sqlite_cli.run("--help").stdout
    assert "<bool>" not in top
    panels = [
        top.index(f"─ {panel} ") for panel in ("Lifecycle", "Reading", "Forensics", "Running")
    ]
    assert panels == sorted(panels)
    assert top.index(" send ") < panels[1] < top.index(" show ") < panels[2] < top.index(" trace ")
    assert panels[3] < top.index(" serve ")
    version = sqlite_cli.run("--version").stdout
    assert version.startswith("handoff-ledger ")
    assert version.strip() != "handoff-ledger"
    watch = sqlite_cli.run("watch", "--help").stdout
    assert "Usage: handoff watch [OPTIONS] ID" in watch
    assert "<bool>" not in watch
    assert "AGENT" not in watch
    rebuild = sqlite_cli.run("projections", "rebuild", "--help").stdout
    assert "Usage: handoff projections rebuild [OPTIONS] [NAME]" in rebuild


def test_send_takes_as_like_every_command_and_from_still_works(sqlite_cli: CLI) -> None:
    by_as = sqlite_cli.json("send", "--as", "inbox_monitor", "--to", "code_agent")
    by_from = sqlite_cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    assert by_as["sender"] == by_from["sender"] == "inbox_monitor"
