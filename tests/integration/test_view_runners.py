"""Every event lands in every view once, with several runners (and a rebuild) at once.

Each runner is a real ``handoff projections run`` process; they are released together
after their start-up (tests/start_line.py) onto a log of a few thousand events, in
small batches, while the test keeps writing and, with three runners, rebuilds a view
under them. Two runners that prepared the same batch are told apart by the tracking
record's compare-and-set (the loser's batch is rolled back and prepared again, which
``HANDOFF_DEBUG=1`` logs as ``views: batch not committed``), a batch prepared before a
rebuild's swap by the view's generation. The test asserts the collisions happened,
that each was handled by preparing the batch again (never as a failed catch-up), and
that the views then equal a fold of the log.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from start_line import start_together
from test_view_failures import HANDOFF, fill_log
from test_views import assert_views_match_fold
from waiting import eventually

from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.adapters.views import Views

pytestmark = pytest.mark.slow

NOT_COMMITTED = "views: batch not committed"
"""The line a runner logs when another runner (or a rebuild) got there first."""


@pytest.mark.parametrize("runners", [2, 3])
def test_concurrent_runners_apply_every_event_once(
    store_url: str, clock: SimulatedClock, tmp_path: Path, runners: int
) -> None:
    ledger = open_ledger(store_url, clock=clock)
    views = Views(ledger)
    procs: list[subprocess.Popen[str]] = []
    try:
        fill_log(ledger, clock, 150)
        env = {**os.environ, "HANDOFF_DB": store_url, "HANDOFF_DEBUG": "1"}
        argv = [HANDOFF, "projections", "run", "--batch-size", "20", "--interval", "0.02"]
        procs = start_together([argv] * runners, env, tmp_path / "gates", now=clock.now())
        names = [p.name for p in views.projections]

        def caught_up() -> bool:
            head = ledger.recorder.max_notification_id() or 0
            return min(views.store.positions(names).values()) >= head

        # While they catch up, and again while they follow: more work arrives.
        fill_log(ledger, clock, 60)
        if runners == 3:
            views.rebuild("agents", batch_size=500)  # swapped in under the live runners
        assert eventually(caught_up), views.store.positions(names)
        fill_log(ledger, clock, 60)
        assert eventually(caught_up), views.store.positions(names)
        errors = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            errors.append(err)
        # The runners did collide, and every loser prepared its batch again: a
        # collision is routine, never a failed catch-up.
        assert sum(err.count(NOT_COMMITTED) for err in errors) >= 1, errors
        assert not [err for err in errors if "catching up failed" in err], errors
        assert_views_match_fold(ledger, views)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=60)
        ledger.close()
