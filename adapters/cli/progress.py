"""Progress bars for long commands: on stderr, and only when stderr is a terminal.

Piped or captured output never holds a bar line; what a command prints on stdout is
the same with or without one. A bar is transient: its last state is replaced by the
command's own summary line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A bar for ``total`` steps, yielding the function that advances it by a count.

    Off stderr's terminal (a pipe, a file, a test) the function does nothing.
    """
    if not sys.stderr.isatty():
        yield lambda count: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task(description, total=total)
        yield lambda count: progress.advance(task, count)
