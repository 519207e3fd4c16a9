"""Supervision deadlines and episodes, with a fake clock and a fake store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.errors import ConfigError, GuardRefusal, StoreUnavailable
from tocsin.ingest.supervision import COMM_FAILURE, EPISODE_MARK, EventFactory, Supervisor, comm_failure
from tocsin.model import Condition, EventIn

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = T0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


class Store:
    def __init__(self) -> None:
        self.events: list[EventIn] = []
        self.fail: Exception | None = None

    async def __call__(self, events: list[EventIn]) -> None:
        if self.fail is not None:
            raise self.fail
        self.events.extend(events)


def factory(key: str) -> EventFactory:
    def event(condition: Condition, episode: datetime, at: datetime) -> EventIn:
        return EventIn(
            type="tech.comm_failure",
            method="equipment",
            source=key,
            condition=condition,
            occurred_at=at,
            external_id=f"{int(episode.timestamp())}:{condition}",
        )

    return event


def make(store: Store, clocks: Clocks, failed: list[str] | None = None) -> Supervisor:
    sup = Supervisor(
        store,
        what="thing",
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
        grace_s=5,
        on_failure=(failed.append if failed is not None else None),
    )
    sup.watch("a", 10, factory("a"))
    sup.watch("b", 60, factory("b"))
    return sup


def test_silence_past_period_and_grace_raises_once_and_speaking_clears() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        failed: list[str] = []
        sup = make(store, clocks, failed)
        clocks.advance(15)
        await sup.check()
        assert store.events == [] and sup.down() == []
        clocks.advance(1)
        await sup.check()
        await sup.check()  # already raised: not again
        assert [(e.source, e.condition) for e in store.events] == [("a", "active")]
        assert sup.down() == ["a"] and failed == ["a"] and sup.failures == 1
        clocks.advance(30)
        assert sup.heard("a") and not sup.heard("zzz")
        await sup.check()
        assert [(e.source, e.condition) for e in store.events] == [("a", "active"), ("a", "cleared")]
        down, up = store.events
        assert down.occurred_at == T0 + timedelta(seconds=16) and up.occurred_at == T0 + timedelta(seconds=46)
        assert down.external_id == f"{int((T0 + timedelta(seconds=16)).timestamp())}:active"
        assert (up.external_id or "") == (down.external_id or "").replace(":active", ":cleared")

    asyncio.run(main())


def test_hearing_moves_the_deadline() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        sup = make(store, clocks)
        for _ in range(5):
            clocks.advance(14)
            sup.heard("a")
            sup.heard("b")
            await sup.check()
        assert store.events == []

    asyncio.run(main())


def test_overloaded_store_is_retried_in_order_and_a_refusal_is_not() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        sup = make(store, clocks)
        clocks.advance(16)
        store.fail = StoreUnavailable("busy")
        await sup.check()
        sup.heard("a")  # back before the active event could be stored
        await sup.check()
        assert store.events == []
        store.fail = None
        await sup.check()
        assert [e.condition for e in store.events] == ["active", "cleared"]  # never cleared first
        clocks.advance(16)
        store.fail = GuardRefusal("no")
        await sup.check()
        store.fail = None
        await sup.check()  # refused: logged, not retried
        assert len(store.events) == 2

    asyncio.run(main())


def test_a_new_outage_after_an_unstored_end_starts_a_new_episode() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        sup = make(store, clocks)
        clocks.advance(16)
        await sup.check()
        sup.heard("a")
        store.fail = StoreUnavailable("busy")
        await sup.check()  # the cleared event is deferred...
        clocks.advance(16)
        store.fail = None
        await sup.check()  # ...and the camera fell silent again: a new episode
        assert [e.condition for e in store.events] == ["active", "active"]
        assert store.events[0].external_id != store.events[1].external_id

    asyncio.run(main())


def test_background_task_sends_the_cleared_event_at_once() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        sup = make(store, clocks)
        clocks.advance(16)
        await sup.check()
        sup.start()  # a full period from now, and a tick of 1 s
        try:
            sup.heard("a")
            async with asyncio.timeout(0.5):  # well under the tick: woken, not polled
                while len(store.events) < 2:
                    await asyncio.sleep(0.01)
        finally:
            await sup.stop()
        assert store.events[-1].condition == "cleared"

    asyncio.run(main())


def test_bad_watches_are_configuration_errors() -> None:
    sup = make(Store(), Clocks())
    with pytest.raises(ConfigError, match="twice"):
        sup.watch("a", 5, factory("a"))
    with pytest.raises(ConfigError, match="positive"):
        sup.watch("c", 0, factory("c"))
    assert "a" in sup and len(sup) == 2


def test_an_outage_still_open_in_the_store_resumes_down_and_its_return_clears_that_episode() -> None:
    async def main() -> None:
        store, clocks = Store(), Clocks()
        sup = make(store, clocks)
        began = T0 - timedelta(hours=2)
        sup.start({"a": began, "not-watched": began})
        try:
            assert sup.down() == ["a"]
            clocks.advance(120)  # far past both periods: b falls silent, a is already down
            await sup.check()
            assert [(e.source, e.condition) for e in store.events] == [("b", "active")]
            assert sup.failures == 1  # the resumed outage is not a new one
            sup.heard("a")
            await sup.check()
        finally:
            await sup.stop()
        up = store.events[-1]
        assert (up.source, up.condition, up.occurred_at) == ("a", "cleared", T0 + timedelta(seconds=120))
        assert up.external_id == f"{int(began.timestamp())}:cleared"  # the episode that began before the restart
        assert sup.down() == ["b"]

    asyncio.run(main())


def test_comm_failure_events_carry_the_episode_mark() -> None:
    ev = comm_failure("active", T0, source="s", site=None, description="d", episode_key="s:supervision:1")
    assert ev.type == COMM_FAILURE and ev.external_id == "s:supervision:1:active" and EPISODE_MARK in ev.external_id
    with pytest.raises(ValueError, match="lacks"):
        comm_failure("active", T0, source="s", site=None, description="d", episode_key="s:1")
