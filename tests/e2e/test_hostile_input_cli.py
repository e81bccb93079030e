"""Input an agent can send on the command line or over MCP: bad input (exit 2 or a tool
error naming the field), never a crash, and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
from conftest import CLI, HANDOFF
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from handoff_ledger.domain.rules import MAX_INPUT_BYTES, MAX_JSON_DEPTH


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"bottom": True}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def bad_input(cli: CLI, *args: str) -> str:
    """The command's error message (``--json``); it must exit 2."""
    done = cli.run(*args, "--json", expect=2)
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "invalid_input", error
    return str(error["message"])


def test_payloads_and_results_nested_past_the_cap_are_refused(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    hid = cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")["id"]
    before = cli.stored()
    deep = json.dumps(nested(MAX_JSON_DEPTH + 1))
    message = bad_input(cli, "send", "--from", "a", "--to", "b", "--payload", deep)
    assert message.startswith(f"payload: nested more than {MAX_JSON_DEPTH} levels deep")
    (cli.cwd / "deep.json").write_text(json.dumps(nested(500)))
    assert bad_input(cli, "complete", hid, "--as", "code_agent", "--result", "@deep.json")
    (cli.cwd / "deeper.json").write_text("[" * 100_000 + "]" * 100_000)
    message = bad_input(cli, "send", "--from", "a", "--to", "b", "--payload", "@deeper.json")
    assert message.startswith("payload: nested more than")
    assert cli.stored() == before


def test_text_that_is_not_utf8_is_refused(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    before = cli.stored()
    # Bytes that are not UTF-8 in an argument reach Python as lone surrogates.
    done = subprocess.run(
        [os.fsencode(HANDOFF), b"send", b"--from", b"a", b"--to", b"b", b"--trigger", b"\xff",
         b"--json"],
        capture_output=True, cwd=cli.cwd, env=cli.env(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done
    error = json.loads(done.stdout)["error"]
    assert error["message"] == "argument 7: '\\\\xff' is not valid UTF-8 text"
    assert b"Traceback" not in done.stderr
    (cli.cwd / "half.json").write_text('{"note": "half a pair \\ud800"}')
    message = bad_input(cli, "send", "--from", "a", "--to", "b", "--payload", "@half.json")
    assert message.startswith("payload.note: is not valid Unicode")
    assert cli.stored() == before


def test_payload_files_and_stdin_have_the_size_limit(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    before = cli.stored()
    message = bad_input(cli, "send", "--from", "a", "--to", "b", "--payload", "@/dev/zero")
    assert message == f"payload: file '/dev/zero' is over the {MAX_INPUT_BYTES:,}-byte limit"
    big = '{"x": "' + "y" * MAX_INPUT_BYTES + '"}'
    done = subprocess.run(
        [HANDOFF, "send", "--from", "a", "--to", "b", "--payload", "@-", "--json"],
        input=big, capture_output=True, text=True, cwd=cli.cwd, env=cli.env(), timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert "standard input is over the" in json.loads(done.stdout)["error"]["message"]
    assert cli.stored() == before
    done = subprocess.run(
        [HANDOFF, "send", "--from", "a", "--to", "b", "--payload", "@-", "--json"],
        input='{"from": "stdin"}', capture_output=True, text=True, cwd=cli.cwd, env=cli.env(),
        timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout)["payload"] == {"from": "stdin"}


def test_an_empty_key_a_zero_duration_and_too_many_targets_are_refused(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    before = cli.stored()
    assert bad_input(cli, "send", "--from", "a", "--to", "b", "--key", "") == (
        "key: must not be empty"
    )
    message = bad_input(cli, "send", "--from", "a", "--to", "b", "--ack-within", "0.0000001s")
    assert "shorter than a microsecond" in message
    targets = [arg for n in range(21) for arg in ("--escalate-to", f"watcher_{n}")]
    assert bad_input(cli, "send", "--from", "a", "--to", "b", *targets).startswith(
        "escalate_to: 21 agents"
    )
    assert cli.stored() == before


def test_over_mcp_a_deep_payload_is_a_tool_error_naming_the_field(
    sqlite_cli: CLI, tmp_path: Path
) -> None:
    cli = sqlite_cli
    cli.json("send", "--from", "inbox_monitor", "--to", "code_agent")
    before = cli.stored()
    params = StdioServerParameters(
        command=HANDOFF, args=["mcp", "--agent", "inbox_monitor"], env=cli.env(), cwd=cli.cwd
    )

    async def scenario() -> None:
        with (tmp_path / "mcp.err").open("a") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                for payload in (nested(MAX_JSON_DEPTH + 1), nested(150)):
                    result = await client.call_tool(
                        "send_handoff", {"to": "code_agent", "payload": payload}
                    )
                    assert result.is_error
                    error = result.structured_content["error"]
                    assert (error["code"], error["field"]) == ("invalid_input", "payload")
                result = await client.call_tool(
                    "send_handoff", {"to": "code_agent", "trigger": "ok \U0001f600"}
                )
                assert not result.is_error  # a character beyond the BMP is fine

    anyio.run(scenario)
    assert "Traceback" not in (tmp_path / "mcp.err").read_text()
    assert len(cli.stored()) == len(before) + 1
