"""Two ledgers on one store, random commands on a few handoffs: what each ledger keeps
is always the store's history up to the kept version, and each command sees the
other ledger's events (issue 24, item 5)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sizes import soak_case

from handoff_ledger.adapters.ledger.application import Ledger
from handoff_ledger.adapters.ledger.clock import SimulatedClock
from handoff_ledger.adapters.store.bootstrap import open_ledger
from handoff_ledger.domain.errors import InvalidInput, Refused
from handoff_ledger.domain.handoff import Handoff
from handoff_ledger.domain.states import Status
from tests.conftest import START

AGENTS = ("a", "b", "c")
agents = st.sampled_from(AGENTS)
which = st.integers(min_value=0, max_value=1)
pick = st.integers(min_value=0, max_value=1_000)


def state(handoff: Handoff) -> dict[str, object]:
    """Everything a handoff holds, its unsaved events aside."""
    return {k: v for k, v in vars(handoff).items() if k != "_pending_events"}


class TwoLedgers(RuleBasedStateMachine):
    """Commands alternate at random between two ledgers on one SQLite file."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="handoff-caches-"))
        self.clock = SimulatedClock(START)
        url = f"sqlite:///{self.folder / 'ledger.db'}"
        self.ledgers = [open_ledger(url, clock=self.clock), open_ledger(url, clock=self.clock)]
        self.ids: list[UUID] = []

    def teardown(self) -> None:
        for ledger in self.ledgers:
            ledger.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ledger(self, index: int) -> Ledger:
        return self.ledgers[index]

    @rule(index=which, sender=agents, receiver=agents)
    def send(self, index: int, sender: str, receiver: str) -> None:
        if sender == receiver:
            return
        sent = self._ledger(index).send(sender=sender, to=receiver).handoff
        self.ids.append(sent.id)

    @rule(
        index=which,
        chosen=pick,
        by=agents,
        command=st.sampled_from(
            ["ack", "status", "stuck", "complete", "decline", "cancel", "reassign", "note", "get"]
        ),
        to=agents,
    )
    def act(self, index: int, chosen: int, by: str, command: str, to: str) -> None:
        if not self.ids:
            return
        handoff_id = self.ids[chosen % len(self.ids)]
        ledger = self._ledger(index)
        self.clock.advance(timedelta(minutes=1))
        commands = {
            "ack": lambda: ledger.ack(handoff_id, by=by),
            "status": lambda: ledger.report_status(handoff_id, by=by, status=Status.WORKING),
            "stuck": lambda: ledger.report_status(handoff_id, by=by, status=Status.STUCK),
            "complete": lambda: ledger.complete(handoff_id, by=by, result={"by": by}),
            "decline": lambda: ledger.decline(handoff_id, by=by, reason="no"),
            "cancel": lambda: ledger.cancel(handoff_id, by=by, reason="no"),
            "reassign": lambda: ledger.reassign(handoff_id, by=by, to=to, reason="away"),
            "note": lambda: ledger.add_note(handoff_id, by=by, message="n"),
            "get": lambda: ledger.get(handoff_id),
        }
        with contextlib.suppress(Refused, InvalidInput):  # refusals are part of the game
            commands[command]()

    @invariant()
    def what_each_ledger_keeps_is_the_store_up_to_its_version(self) -> None:
        reader = self.ledgers[0]
        for handoff_id in self.ids:
            for ledger in self.ledgers:
                kept = ledger.handoffs.checkout(handoff_id)
                if kept is None:
                    continue
                assert kept.pending_events == []
                folded = reader.repository.get(handoff_id, version=kept.version)
                assert state(kept) == state(folded)

    @invariant()
    def no_command_lost_a_race(self) -> None:
        # One thread: nothing can be recorded between a command's read and its save,
        # so a conflict would mean a ledger acted on a copy it failed to fast-forward.
        assert [ledger.lost_races for ledger in self.ledgers] == [0, 0]


TwoLedgers.TestCase.settings = settings(max_examples=20, stateful_step_count=40, deadline=None)
test_two_ledgers_keep_only_what_the_store_holds = TwoLedgers.TestCase

test_two_ledgers_keep_only_what_the_store_holds_soak = soak_case(TwoLedgers.TestCase, examples=60)
