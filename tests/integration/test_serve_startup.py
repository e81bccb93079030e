"""What ``handoff serve`` says as it starts (issue 22, item 8), on both stores.

Where it serves, the dashboard's address, trial mode, and a warning when no reactor
has made a pass over the store lately: without one, timers never fire. A reactor's
pass is recorded in ``hl_reactor_passes`` (services/reactor_passes.py).
"""

from __future__ import annotations

from datetime import timedelta

from handoff_ledger.adapters.cli.serve_commands import startup_lines
from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.services.reactor import Reactor
from handoff_ledger.adapters.services.reactor_passes import PASSES
from handoff_ledger.adapters.views import Views


def said(ledger: Ledger, *, trial: bool = False, with_reactor: bool = False) -> list[str]:
    views = Views(ledger)
    return startup_lines(
        ledger, "127.0.0.1", 8000, trial=trial, with_reactor=with_reactor, views=views
    )


def test_serve_warns_until_a_reactor_passes_and_again_once_none_has_lately(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    first = said(ledger)
    assert first[:2] == [
        "serving on http://127.0.0.1:8000 (Ctrl-C to stop)",
        "dashboard: http://127.0.0.1:8000/dashboard/",
    ]
    assert first[2].startswith("warning: no reactor has run against this store in the last 2m")
    assert "(none ever has)" in first[2]
    assert "handoff reactor" in first[2]
    assert "--with-reactor" in first[2]
    assert PASSES not in Views(ledger).store.existing_tables()  # asking wrote nothing

    reactor = Reactor(ledger)
    try:
        reactor.run_once()
    finally:
        reactor.close()
    assert said(ledger)[2] == "reactor: last pass now"

    clock.advance(timedelta(minutes=3))
    stale = said(ledger)[2]
    assert stale.startswith("warning: no reactor has run against this store in the last 2m")
    assert "(its last pass was 2026-11-25T09:00:00Z (3m ago))" in stale


def test_with_its_own_reactor_serve_does_not_warn_and_a_trial_says_so(ledger: Ledger) -> None:
    assert len(said(ledger, with_reactor=True)) == 2
    trial = said(ledger, trial=True, with_reactor=True)
    assert trial[2].startswith("trial mode: no tokens; loopback only;")
