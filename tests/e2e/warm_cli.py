"""A warm ``handoff``: each command a process of its own, forked from one that has
already imported the CLI, so the e2e tests do not pay an interpreter start and the
imports for each of their ~900 commands (about 0.2 s each on the 2-core machine).

Started once per test process by :class:`conftest.CLI` (``python warm_cli.py
SOCKET``), it imports every command module and then waits on a Unix socket. For each
request (a JSON line: ``argv``, ``env``, ``cwd`` and the files for ``stdout`` and
``stderr``) it forks a handler, which forks the command's process and answers with
that process's pid, then with its exit status once it ended. The command's process
takes the request's working directory, environment and files (stdin is
``/dev/null``), runs :func:`handoff_ledger.adapters.cli.main.main` as the console
script would, and ends as any interpreter does: ``sys.exit``, ``atexit`` handlers,
non-daemon threads joined, an uncaught exception printed as a traceback.

What this does not cover, each tested with fresh processes elsewhere: the console
script itself, what a command imports (tests/e2e/test_cli_start.py), servers and
loops (started with ``subprocess.Popen``). The forking process holds no thread, no
connection and no open store, and exits when its stdin (a pipe from the tests'
process) closes.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import threading
from typing import Any


def preload() -> None:
    """Import every command's modules: after this, a command imports nothing of its own."""
    from handoff_ledger.adapters.cli.commands import COMMANDS

    for entry in COMMANDS.values():
        for module in entry.modules:
            importlib.import_module(f"handoff_ledger.adapters.cli.{module}")
    if threading.active_count() != 1:  # fork() copies only the calling thread
        raise SystemExit(f"warm_cli: importing the CLI started threads: {threading.enumerate()}")


def serve(path: str) -> dict[str, Any]:
    """Wait for requests; return one in a command's process (never in this one)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the handlers are reaped by the kernel
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            # The tests' process is gone (killed, perhaps, before it could clean up).
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            raise SystemExit(0)
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        if os.fork() != 0:
            conn.close()
            continue
        # The handler: one request, one command process.
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        request = json.loads(conn.makefile("rb").readline())
        pid = os.fork()
        if pid == 0:
            conn.close()
            return dict(request)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        conn.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        conn.close()
        os._exit(0)


def become(request: dict[str, Any]) -> None:
    """Turn this fork into the command's process, with the request's place and files."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, encoding=sys.stdin.encoding, closefd=False)  # noqa: SIM115
    sys.argv = [request["argv0"], *request["argv"]]


if __name__ == "__main__":
    preload()
    command = serve(sys.argv[1])
    become(command)
    from handoff_ledger.adapters.cli.main import main

    main(command["argv"])
