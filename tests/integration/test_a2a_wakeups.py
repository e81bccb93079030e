"""What blocking A2A sends and streams wait on: woken by this process's saves of their
own handoff, handed the events saved (no read), and not by other handoffs' saves."""

from __future__ import annotations

import asyncio

from handoff_ledger.adapters.faces.a2a.watching import Wakeups
from handoff_ledger.adapters.ledger.application import Ledger


def test_a_waiter_gets_its_handoffs_saved_events_and_ignores_the_others(ledger: Ledger) -> None:
    watched = ledger.send(sender="inbox_monitor", to="code_agent", trigger="watched").handoff
    other = ledger.send(sender="inbox_monitor", to="code_agent", trigger="other").handoff
    wakeups = Wakeups(ledger)
    reads = []
    history = ledger.history

    def counted(handoff_id, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(handoff_id)
        return history(handoff_id, **kwargs)

    ledger.history = counted  # type: ignore[method-assign]
    known = history(watched.id)
    seen: list[list[str]] = []

    async def wait() -> None:
        changes = wakeups.changes(watched.id, known[-1].originator_version, known=known, poll=30)
        async for events in changes:
            seen.append([type(e).__name__ for e in events])
            if seen[-1][-1] == "Completed":
                return

    def act() -> None:
        ledger.ack(other.id, by="code_agent")  # another handoff: wakes nobody here
        ledger.ack(watched.id, by="code_agent")
        ledger.complete(watched.id, by="code_agent", result={"ok": True})

    async def both() -> None:
        waiting = asyncio.create_task(wait())
        while not wakeups._waiters:  # armed (it would look again only after 30 s)
            await asyncio.sleep(0.001)
        await asyncio.to_thread(act)
        await asyncio.wait_for(waiting, timeout=20)

    asyncio.run(both())
    assert seen[-1] == [type(e).__name__ for e in history(watched.id)]
    assert seen[-1][-1] == "Completed"
    assert reads == []  # every change came with the save: the history was never read
