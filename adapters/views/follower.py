"""Views kept following the log by a child process, supervised by the process it serves.

Why a process: ``handoff serve`` answers requests on one Python interpreter. A view
batch holds its GIL for milliseconds at a time (folding events, building rows), and
every request waiting behind it waits that long; on PostgreSQL at 8 clients this put
the p99 at half load at 24-109 ms with the follower as a thread, 19-28 ms with it in
a child process (docs/performance.md). The views are independent of the requests:
each has its own tracking record, so another process may apply them.

The child follows exactly as a follower thread would (``Views.run_forever``) and
stops when the pipe from its parent closes: the parent closes it to stop the child,
and the kernel closes it when the parent dies (a ``SIGKILL`` of ``serve`` leaves no
orphan writing views). A pipe, not a ``multiprocessing.Event``: an event's lock held
by a child killed at the wrong moment stays held, and the next ``set()`` hangs. A
child that dies is started again by its supervisor thread; a batch it was writing
when it died is rolled back with its tracking record and applied again from the log.

Views the parent needs current *at once* (``on_request``: the queues, from which
``ack`` answers its queue position) are caught up by the child when asked
(:meth:`FollowerProcess.caught_up`): a message down the same pipe, a position back
up another. A catch-up begun after the request was received serves it (and every
request that came during the one before), so an ``ack`` whose event is committed
finds it in the view. The work of a catch-up (about a dozen statements, the fold,
the rows) then runs on the child's interpreter, not on the one answering requests:
on PostgreSQL at 8 clients that was a quarter of ``serve``'s CPU per lifecycle. If
the child does not answer in time (it died, it is being replaced), the parent
catches the view up itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.projections.registry import all_projections

if TYPE_CHECKING:
    from handoff_ledger.adapters.views.service import Views

__all__ = ["FollowerProcess", "follow_until"]

log = logging.getLogger(__name__)

RESTART_AFTER = 1.0
"""Seconds between a child's death and its replacement."""
_ASK_AGAIN = 0.005
"""Seconds before asking the child for another round that may reach further."""


class FollowerProcess:
    """A child process following the log for the named views, restarted if it dies."""

    def __init__(
        self,
        ledger: Ledger,
        names: list[str],
        *,
        settle: float,
        poll_interval: float = 0.1,
        on_request: list[str] | None = None,
    ) -> None:
        self._env = {key: str(value) for key, value in ledger.env.items()}
        self._names = list(names)
        self._on_request = list(on_request or [])
        self._settle = settle
        self._poll = poll_interval
        self._context = multiprocessing.get_context("spawn")
        self._lifeline: Connection | None = None
        """Our end of the running child's pipe: requests go down it; closing it stops
        the child."""
        self._send_lock = threading.Lock()
        self._answers = threading.Condition()
        self._answering = False
        """True while a child's answers can still come (its reply pipe is open)."""
        self._generation = 0
        """Which child's answers are awaited (one per start)."""
        self._reached: dict[str, int] = dict.fromkeys(self._on_request, 0)
        """Each ``on_request`` view's position, as the child last reported it."""
        self._answered = 0
        """How many answers came back (a round can end below the position asked)."""
        self.child: Any = None
        """The running child (a ``multiprocessing`` process), for tests and status."""
        self.starts = 0
        """How many children were started (1 + restarts)."""

    def run(self, stop: threading.Event) -> threading.Thread:
        """Start the child, and a thread that restarts it until ``stop``, then stops it."""
        self._start_child()
        supervisor = threading.Thread(
            target=self._supervise, args=(stop,), name="views-follower-supervisor", daemon=True
        )
        supervisor.start()
        return supervisor

    @property
    def reached(self) -> int:
        """A log position every ``on_request`` view is known to have applied."""
        return self._reached_by(self._on_request)

    def _reached_by(self, names: Sequence[str]) -> int:
        """A log position these views are known to have applied (0 for none named)."""
        return min((self._reached.get(name, 0) for name in names), default=0)

    def caught_up(self, position: int, timeout: float, views: Sequence[str] | None = None) -> bool:
        """Have the child apply the log up to ``position`` to the ``on_request`` views
        (or to those of them named in ``views``).

        True once they hold it; False if the child could not be asked or did not
        answer within ``timeout`` seconds (the caller then catches up itself).
        """
        names = list(self._on_request if views is None else views)
        if not names:
            return True

        def reached() -> int:
            return self._reached_by(names)

        deadline = time.monotonic() + timeout
        while reached() < position:
            answered = self._answered  # read before asking: the answer may come at once
            if not self.ask(views):
                return False

            def done(answered: int = answered) -> bool:
                return reached() >= position or not self._answering or self._answered != answered

            with self._answers:
                self._answers.wait_for(done, max(0.0, deadline - time.monotonic()))
                if not self._answering:
                    return reached() >= position
            if time.monotonic() >= deadline:
                return reached() >= position
            if reached() < position:
                # PostgreSQL: the child's round ended below ``position`` because a
                # transaction begun earlier held the log's horizon; ask again.
                time.sleep(_ASK_AGAIN)
        return True

    def ask(self, views: Sequence[str] | None = None) -> bool:
        """Ask the child for a catch-up of the ``on_request`` views (or of those of
        them named in ``views``) to the log's head, without waiting for it; False if
        the child cannot be asked (it is gone, its replacement is on the way)."""
        if views is not None and not set(views) <= set(self._on_request):
            unknown = sorted(set(views) - set(self._on_request))
            raise ValueError(f"views {unknown} are not caught up on request by this child")
        request = b"" if views is None else ",".join(views).encode()
        with self._send_lock:
            if self._lifeline is None:
                return False
            try:
                self._lifeline.send_bytes(request)  # "catch up now", to the log's head
            except OSError:
                return False
        return True

    def _start_child(self) -> None:
        theirs, ours = self._context.Pipe(duplex=False)
        replies, answer_end = self._context.Pipe(duplex=False)
        self.child = self._context.Process(
            target=_follow,
            args=(
                self._env, self._names, self._on_request, self._settle, self._poll,
                theirs, answer_end,
            ),
            name="handoff-views-follower",
            daemon=True,
        )  # fmt: skip
        self.child.start()
        theirs.close()  # the child holds the only reading end now
        answer_end.close()  # and the only writing end of its replies
        with self._answers:
            self._answering = True
            self._generation += 1
        threading.Thread(
            target=self._read_answers,
            args=(replies, self._generation),
            name="views-follower-answers",
            daemon=True,
        ).start()
        with self._send_lock:
            self._lifeline = ours
        self.starts += 1

    def _read_answers(self, replies: Connection, generation: int) -> None:
        """Publish each position the child reports, until its reply pipe closes."""
        try:
            while True:
                answer = replies.recv_bytes()  # a position, then the views it holds for
                reached = int.from_bytes(answer[:8], "big")
                served = answer[8:].decode().split(",") if len(answer) > 8 else self._on_request
                with self._answers:
                    for name in served:
                        self._reached[name] = max(self._reached.get(name, 0), reached)
                    self._answered += 1
                    self._answers.notify_all()
        except (EOFError, OSError):
            pass
        finally:
            replies.close()
            with self._answers:
                if generation == self._generation:  # not a replacement's answers
                    self._answering = False
                self._answers.notify_all()

    def _stop_child(self) -> None:
        with self._send_lock:
            if self._lifeline is not None:
                self._lifeline.close()
                self._lifeline = None

    def _supervise(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.child.join(timeout=0.2)
            if self.child.exitcode is None or stop.is_set():
                continue
            log.warning(
                "views: the follower process exited (code %s); starting another",
                self.child.exitcode,
            )
            self._stop_child()
            if stop.wait(RESTART_AFTER):
                break
            self._start_child()
        self._stop_child()
        self.child.join(timeout=10)
        if self.child.exitcode is None:
            self.child.kill()
            self.child.join(timeout=5)


def _follow(
    env: dict[str, str],
    names: list[str],
    on_request: list[str],
    settle: float,
    poll_interval: float,
    lifeline: Connection,
    replies: Connection,
) -> None:
    """The child: follow the log for ``names`` until the pipe from the parent closes;
    catch the ``on_request`` views up whenever a message comes down that pipe.

    Ctrl-C in a terminal reaches the whole process group: the parent decides when
    the child stops, so the child ignores it (no second traceback, no early stop).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    stop = threading.Event()
    asked = threading.Event()
    wanted: set[str] = set()
    """The views asked for since the last round began (all ``on_request``: b"")."""
    wanted_lock = threading.Lock()

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                request = lifeline.recv_bytes()  # EOF when the parent closes the pipe
                names = request.decode().split(",") if request else on_request
                with wanted_lock:
                    wanted.update(name for name in names if name in on_request)
                asked.set()
        stop.set()
        asked.set()

    def take() -> list[str]:
        with wanted_lock:
            names = sorted(wanted)
            wanted.clear()
        return names

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    ledger = Ledger(env=env)
    try:
        if on_request:
            # Made here, before the follower's own views: each makes its tables if
            # missing, and two threads making them at once wait on each other's locks.
            requested = _views(ledger, on_request)
            threading.Thread(
                target=_answer_requests,
                args=(ledger, requested, take, stop, asked, replies),
                name="views-on-request",
                daemon=True,
            ).start()
        if names:
            follow_until(_views(ledger, names), stop, settle=settle, poll_interval=poll_interval)
        else:  # only asked for catch-ups (a reactor's): nothing follows the log meanwhile
            stop.wait()
    finally:
        ledger.close()


def _views(ledger: Ledger, names: list[str]) -> Views:
    """The named views over ``ledger``, in the child (which imports the views code here)."""
    from handoff_ledger.adapters.views.service import Views

    return Views(ledger, [p for p in all_projections() if p.name in names])


def _answer_requests(
    ledger: Ledger,
    requested: Views,
    take: Callable[[], list[str]],
    stop: threading.Event,
    asked: threading.Event,
    replies: Connection,
) -> None:
    """Each round: note the log's head, catch the views asked for up, report the head
    reached and for which views.

    The head is read first, so the catch-up that follows reads every event up to
    it (on PostgreSQL the head is at the log's horizon: nothing can be committed
    at or below it any more, ``store/log_format.py``).
    Requests that arrive during a round are served together by the next one, for
    every view any of them asked for.
    """
    from handoff_ledger.adapters.views.runner import ViewRunner

    every = tuple(sorted(p.name for p in requested.projections))
    runners: dict[tuple[str, ...], ViewRunner] = {every: requested.runner}
    while True:
        asked.wait()
        if stop.is_set():
            return
        asked.clear()
        names = tuple(take())
        if not names:
            continue
        try:
            if names not in runners:  # some of the views: a runner of their own, same store
                chosen = [p for p in requested.projections if p.name in names]
                runners[names] = ViewRunner(ledger, requested.store, chosen)
            runner = runners[names]
            head = ledger.head()
            if runner is requested.runner:
                requested.catch_up()  # with the planner statistics' refresh after a long one
            else:
                runner.catch_up()
            reached = max(head, runner.reached).to_bytes(8, "big")
            replies.send_bytes(reached + ",".join(names).encode())
        except OSError:
            return  # the parent is gone
        except Exception:
            # The parent's request times out and it catches up itself; the next
            # request tries again.
            log.exception("views: a requested catch-up failed")


def follow_until(
    views: Views, stop: threading.Event, *, settle: float, poll_interval: float
) -> None:
    """Follow the log until ``stop``, starting again a second after any failure.

    What every follower runs, thread or child process: ``run_forever`` survives lost
    connections itself; anything else is logged, and the follower carries on.
    """
    while not stop.is_set():
        try:
            views.run_forever(stop, poll_interval=poll_interval, settle=settle)
        except Exception:
            log.exception("views: the follower stopped; restarting it")
            stop.wait(1.0)
