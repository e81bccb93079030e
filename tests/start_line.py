"""Release several ``handoff`` processes at the same instant, after their start-up.

A ``handoff`` process takes about a second to import and parse its arguments, so
processes started one after another never meet. Each process here reads the time
(``HANDOFF_CLOCK=file:PATH``) from a path of its own that holds a FIFO: the read
blocks until the test writes the time. A non-blocking open for writing succeeds
only once the process has the FIFO open for reading, which is how the test knows it
waits. Every command reads the clock first when it opens the store (``ledger_at``);
a command that acts on a handoff reads it again inside the command, after loading
the handoff and before saving. ``hold_at`` picks the read to hold every process at;
earlier reads are let through one by one. Each round puts a fresh FIFO (at last a
plain file) in the path's place, so a read never meets the previous round's writer.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from handoff_ledger.adapters.ledger.clock import CLOCK_ENV


def start_together(
    argvs: Sequence[Sequence[str]],
    env: dict[str, str],
    gates: Path,
    *,
    hold_at: int = 1,
    now: datetime | None = None,
    cwd: Path | None = None,
) -> list[subprocess.Popen[str]]:
    """Start one process per argv, hold each at its ``hold_at``-th clock read until all
    are there, then release them together; returns the running processes (their
    stdout and stderr are pipes)."""
    gates.mkdir(exist_ok=True)
    text = (now or datetime.now(UTC)).isoformat()
    paths = [gates / f"clock-{index}" for index in range(len(argvs))]
    procs = []
    for path, argv in zip(paths, argvs, strict=True):
        os.mkfifo(path)
        procs.append(
            subprocess.Popen(
                list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=cwd, env=env | {CLOCK_ENV: f"file:{path}"},
            )
        )  # fmt: skip
    for _ in range(hold_at - 1):  # reads before the start line: let them through
        for path, proc in zip(paths, procs, strict=True):
            end = _open_when_read(path, proc)
            _replace(path, fifo=True)
            _release(end, text)
    ends = [_open_when_read(path, proc) for path, proc in zip(paths, procs, strict=True)]
    for path in paths:  # every process waits at the start line
        _replace(path, fifo=False, text=text)
    for end in ends:
        _release(end, text)
    return procs


def _open_when_read(path: Path, proc: subprocess.Popen[str]) -> int:
    """The write end of the FIFO at ``path``, once ``proc`` waits on its read end."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{proc.args} never read its clock"
        time.sleep(0.01)


def _replace(path: Path, *, fifo: bool, text: str = "") -> None:
    """Put a fresh FIFO (or a plain file holding ``text``) at ``path``; open ends stay."""
    fresh = path.with_name(path.name + ".next")
    if fifo:
        os.mkfifo(fresh)
    else:
        fresh.write_text(text)
    fresh.replace(path)


def _release(end: int, text: str) -> None:
    os.write(end, text.encode())
    os.close(end)
