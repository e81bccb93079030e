"""Entry point of the ``handoff`` console script: runs a command, maps failures to exit codes.

Exit codes: 0 success; 1 refused by the rules; 2 bad input (a bad store URL, or
a URL that holds no ledger, included); 3 internal error; 4 the store is
unavailable (unreachable, locked past its bound, full). The reason goes to
stderr, or, with ``--json``, as ``{"error": {"code", "message"}}`` on stdout.
No traceback reaches the user unless ``HANDOFF_DEBUG=1`` asks for one.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer
from typer.exceptions import TyperException

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.help import group_commands, plain_usage
from handoff_ledger.adapters.services.documents import error_document
from handoff_ledger.adapters.services.vocabulary import Reply
from handoff_ledger.adapters.store.errors import StoreUnavailable, store_failure
from handoff_ledger.domain.errors import HandoffError, InvalidInput, Refused

__all__ = [
    "COMMAND_MODULES",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_REFUSED",
    "EXIT_STORE_UNAVAILABLE",
    "exit_code_for",
    "load_commands",
    "main",
]

_LIFECYCLE = ("send", "ack", "status", "complete", "fail", "decline", "cancel", "reassign")
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    **{name: ("lifecycle",) for name in (*_LIFECYCLE, "reply", "note")},
    **{name: ("work_commands",) for name in ("next", "work")},
    **{name: ("reading",) for name in ("show", "inbox", "overdue", "log")},
    **{name: ("views_commands",) for name in ("notifications", "watch", "projections")},
    **{name: ("trace_commands",) for name in ("trace", "gaps", "replay")},
    **{name: ("audit_commands",) for name in ("audit", "export")},
    "digest": ("digest_commands",),
    "protocol": ("protocol_commands",),
    "init": ("init_command",),
    "serve": ("serve_commands",),
    "reactor": ("reactor_commands",),
    "mcp": ("mcp_commands",),
    "demo": ("demo",),
    "a2a-bridge": ("bridge_commands",),
    "agents": ("views_commands", "serve_commands", "webhook_secret_commands"),
}
"""Which modules of ``adapters/cli`` register each top-level command or group (a
module registers its commands when it is imported). ``handoff ack`` imports only
what ``ack`` needs; ``--help``, no command or an unknown one import them all
(``tests/e2e/test_cli_start.py`` holds this table equal to what the modules register)."""


def load_commands(args: list[str] | None = None) -> None:
    """Import the command modules ``args`` needs (all of them without ``args``, for
    ``--help``, or for a name this table does not know), then order ``--help``."""
    name = next((arg for arg in args or [] if not arg.startswith("-")), None)
    wanted = COMMAND_MODULES.get(name or "")
    if wanted is None:
        wanted = tuple(dict.fromkeys(m for modules in COMMAND_MODULES.values() for m in modules))
    for module in wanted:
        importlib.import_module(f"handoff_ledger.adapters.cli.{module}")
    group_commands(app)


plain_usage()

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_STORE_UNAVAILABLE = 4


def exit_code_for(error: HandoffError) -> int:
    """1 for a refusal by the rules, 2 for bad input, 4 for a store that is unavailable."""
    if isinstance(error, StoreUnavailable):
        return EXIT_STORE_UNAVAILABLE
    return EXIT_REFUSED if isinstance(error, Refused) else EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> None:
    """Run ``handoff`` with ``argv`` (default: the process arguments) and exit."""
    args = sys.argv[1:] if argv is None else argv
    wants_json = "--json" in args
    if _debugging():
        _log_to_stderr()
    try:
        _require_utf8(args)
        load_commands(args)
        result = app(args=args, prog_name="handoff", standalone_mode=False)
    except HandoffError as error:
        _fail(error_document(error), error.message, exit_code_for(error), wants_json)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except TyperException as error:  # usage errors: missing or unknown options, bad values
        if wants_json:
            emit_json({"error": {"code": "usage", "message": error.format_message()}})
        else:
            show = getattr(error, "show", None)
            if callable(show):
                show()
            else:
                typer.echo(f"error: {error.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a bug or a lost store: one line, not a traceback
        if _debugging():
            raise
        unavailable = store_failure(error)
        if unavailable is not None:
            _fail(
                error_document(unavailable),
                unavailable.message,
                EXIT_STORE_UNAVAILABLE,
                wants_json,
            )
        message = (
            f"internal error: {type(error).__name__}: {error} (set HANDOFF_DEBUG=1 for details)"
        )
        _fail(
            {"error": {"code": "internal", "message": message}}, message, EXIT_INTERNAL, wants_json
        )
    sys.exit(result if isinstance(result, int) else 0)


def _debugging() -> bool:
    """``HANDOFF_DEBUG`` asks for details: tracebacks, and the ledger's own log lines."""
    return os.environ.get("HANDOFF_DEBUG", "") not in ("", "0", "false", "no")


def _log_to_stderr() -> None:
    """The ledger's log lines (a lost race and its re-run, a view batch prepared again)
    on stderr, one per line; the libraries' own stay quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("handoff_ledger")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _require_utf8(args: list[str]) -> None:
    """Every argument is text: bytes that are not UTF-8 reach Python as lone surrogates,
    which no store, terminal or JSON document can hold."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise InvalidInput(
                f"argument {number}: {shown[:60]!r} is not valid UTF-8 text"
            ) from None


def _fail(document: Reply, message: str, code: int, wants_json: bool) -> None:
    if wants_json:
        emit_json(document)
    else:
        typer.echo(f"error: {message}", err=True)
    sys.exit(code)
