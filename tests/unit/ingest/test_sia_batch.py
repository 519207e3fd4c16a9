"""The SIA frame batcher (:mod:`tocsin.ingest.sia_batch`): callbacks, waiters, cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from tests.unit.ingest._polling import eventually
from tocsin.errors import GuardRefusal, StoreUnavailable
from tocsin.ingest.sia_batch import _MAX_INFLIGHT, Done, FrameBatcher
from tocsin.model import Actor, EventIn

ACTOR = Actor(name="sia:1234", role="device")


def event(n: int) -> EventIn:
    return EventIn(type="intrusion.burglary", method="equipment", source="sia:1234", external_id=f"1234:{n}")


class Door:
    def __init__(self, refuse: str | None = None) -> None:
        self.calls: list[list[str | None]] = []
        self.refuse = refuse
        self.gate: asyncio.Event | None = None
        self.inside = 0
        self.most_inside = 0

    async def __call__(
        self, items: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
    ) -> list[tuple[int, int | None]]:
        self.calls.append([e.external_id for e in items])
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
        finally:
            self.inside -= 1
        if self.refuse is not None and any(e.external_id == self.refuse for e in items):
            raise GuardRefusal("refused")
        return [(1, None)] * len(items)


def test_frames_added_together_go_in_one_call_and_each_is_told_even_if_one_callback_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[tuple[int, str | None]] = []

    def done(n: int) -> Done:
        def tell(error: BaseException | None) -> None:
            told.append((n, None if error is None else type(error).__name__))
            if n == 1:
                raise RuntimeError("a connection's callback broke")

        return tell

    async def main() -> Door:
        door = Door(refuse="1234:2")
        batcher = FrameBatcher(door, 500)
        for n in range(4):
            batcher.add([event(n)], ACTOR, ["raw"], done(n))
        assert batcher.waiting
        assert await eventually(lambda: not batcher.waiting, 2)
        return door

    with caplog.at_level(logging.ERROR, logger="tocsin.ingest.sia_batch"):
        door = asyncio.run(main())
    assert door.calls[0] == ["1234:0", "1234:1", "1234:2", "1234:3"]  # one call, refused whole...
    assert door.calls[1:] == [["1234:0"], ["1234:1"], ["1234:2"], ["1234:3"]]  # ...so each goes alone
    assert told == [(0, None), (1, None), (2, "GuardRefusal"), (3, None)]
    assert [r.getMessage() for r in caplog.records] == ["sia frame: telling its connection how it fared failed"]


def test_a_cancelled_waiter_s_frame_is_not_stored() -> None:
    async def main() -> Door:
        door = Door()
        batcher = FrameBatcher(door, 500)
        waiter = asyncio.create_task(batcher.submit([event(1)], ACTOR, ["raw"]))
        kept = asyncio.create_task(batcher.submit([event(2)], ACTOR, ["raw"]))
        await asyncio.sleep(0)  # both queued; the batch forms on the next turn
        waiter.cancel()
        await kept
        return door

    assert asyncio.run(main()).calls == [["1234:2"]]


def test_one_event_per_call_when_max_events_is_one_with_no_bound_on_calls_at_once() -> None:
    frames = _MAX_INFLIGHT + 2

    async def main() -> Door:
        door = Door()
        door.gate = asyncio.Event()
        batcher = FrameBatcher(door, 1)
        waiters = asyncio.gather(*(batcher.submit([event(n)], ACTOR, ["raw"]) for n in range(frames)))
        assert await eventually(lambda: len(door.calls) == frames, 2)
        door.gate.set()
        await waiters
        return door

    door = asyncio.run(main())
    assert door.calls == [[f"1234:{n}"] for n in range(frames)]
    assert door.most_inside == frames


def test_drain_tells_every_frame_it_cuts_off_or_drops_that_it_was_not_stored() -> None:
    told: dict[int, str | None] = {}

    def done(n: int) -> Done:
        return lambda error: told.__setitem__(n, None if error is None else type(error).__name__)

    async def main() -> tuple[Door, BaseException | None]:
        door = Door()
        door.gate = asyncio.Event()  # the store never answers
        batcher = FrameBatcher(door, 500)
        for n in range(_MAX_INFLIGHT):  # one call each, all in flight
            batcher.add([event(n)], ACTOR, ["raw"], done(n))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        waiter = asyncio.ensure_future(batcher.submit([event(90)], ACTOR, ["raw"]))
        batcher.add([event(91)], ACTOR, ["raw"], done(91))
        await asyncio.sleep(0.01)
        assert len(door.calls) == _MAX_INFLIGHT  # the last two wait in the queue
        await batcher.drain(0.05)
        assert not batcher.waiting
        try:
            await waiter
        except StoreUnavailable as exc:
            return door, exc
        return door, None

    door, error = asyncio.run(main())
    assert isinstance(error, StoreUnavailable)
    assert told == {n: "StoreUnavailable" for n in [*range(_MAX_INFLIGHT), 91]}
    assert door.inside == 0  # the calls in flight were cancelled
