"""Entry point of the ``handoff`` console script: runs a command, maps failures to exit codes.

Exit codes: 0 success; 1 refused by the rules; 2 bad input (a bad store URL, or
a URL that holds no ledger, included); 3 internal error; 4 the store is
unavailable (unreachable, locked past its bound, full). The reason goes to
stderr, or, with ``--json``, as ``{"error": {"code", "message"}}`` on stdout.
No traceback reaches the user unless ``HANDOFF_DEBUG=1`` asks for one.

A command's modules are imported when it runs (:class:`~handoff_ledger.adapters.cli.app.LazyGroup`),
and this module imports what a failure needs (the error documents, the store's
errors) when one happens: ``handoff --help`` loads no command, no ledger and no store.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer
from typer.exceptions import TyperException

from handoff_ledger.adapters.cli.app import app, emit_json
from handoff_ledger.adapters.cli.coercion import values_as_given
from handoff_ledger.adapters.cli.help import plain_usage
from handoff_ledger.domain.errors import HandoffError, InvalidInput, Refused

if TYPE_CHECKING:
    from handoff_ledger.adapters.services.vocabulary import Reply

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_REFUSED",
    "EXIT_STORE_UNAVAILABLE",
    "exit_code_for",
    "main",
]

plain_usage()
values_as_given()

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_STORE_UNAVAILABLE = 4


def exit_code_for(error: HandoffError) -> int:
    """1 for a refusal by the rules, 2 for bad input, 4 for a store that is unavailable."""
    from handoff_ledger.adapters.store.errors import StoreUnavailable

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
        result = app(args=args, prog_name="handoff", standalone_mode=False)
    except HandoffError as error:
        from handoff_ledger.adapters.services.documents import error_document

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
        from handoff_ledger.adapters.services.documents import error_document
        from handoff_ledger.adapters.store.errors import store_failure

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
    import logging

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
