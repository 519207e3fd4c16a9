"""Batching of SIA frames on their way to the ingest door: many frames, one commit.

tocsin's ingest pays per call (a savepoint, a dedup query, an audit record), so the SIA
receiver (:mod:`.sia`) hands the events of frames that arrive together to ``accept`` in one
call through :class:`FrameBatcher`. Each frame's handler still waits for *its* events to be
durable before it ACKs, and a refused frame is told apart from its batch-mates. It owns no
sockets and builds no events.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Callable
from typing import Any

from tocsin.errors import IngestError, StoreUnavailable
from tocsin.ingest.door import Accept
from tocsin.model import Actor, EventIn

__all__ = ("RECEIVER_ACTOR", "Done", "FrameBatcher")

log = logging.getLogger(__name__)

RECEIVER_ACTOR = Actor(name="sia:receiver", role="device")
"""Who a batch holding several accounts' frames is ingested as (each event's source names its account)."""
_MAX_INFLIGHT = 4
"""Accept calls at once (with ``max_events`` 1, no bound: one call per frame, as they come).
The store commits serially, so a call in flight does not commit sooner than the one before
it; it lets the next batch cross to the engine (and the engine's process, when the receiver
has its own) while the earlier ones commit, instead of after. The engine commits the
receiver's calls that wait together in one urgent group, so batches waiting there cost
little. Measured with ``bench/sia.py``: two over one, about +8 % frames/s on two machines;
four over two, no change in frames/s, but under an HTTP flood the panels' ACK p99 fell from
130-156 ms to 34-36 ms: with two, a third batch waited a whole round trip behind the bulk
group commits before it could even leave."""


Done = Callable[[BaseException | None], None]
"""Told how a frame's events fared: None once they are durable, else the error ``accept`` raised."""


_CUT_OFF = StoreUnavailable("the SIA receiver stopped before the store answered")


class _Pending:
    __slots__ = ("actor", "done", "events", "future", "raw", "told")

    def __init__(
        self,
        events: list[EventIn],
        actor: Actor,
        raw: list[str | None],
        done: Done,
        future: asyncio.Future[None] | None,
    ) -> None:
        self.events = events
        self.actor = actor
        self.raw = raw
        self.done = done
        self.future = future
        """The waiter of :meth:`FrameBatcher.submit`; cancelled: nobody waits, so not stored."""
        self.told = False


class FrameBatcher:
    """Hands the events of frames that arrive together to ``accept`` in one call.

    tocsin's ingest pays per call (a savepoint, a dedup query, an audit record), so one
    frame per call caps a receiver at a few hundred frames/s however many panels talk to
    it. Frames queue here while the calls in flight run (:data:`_MAX_INFLIGHT`); the next call takes
    everything waiting (up to ``max_events``), so batches grow with the load and a lone
    frame goes at once. A batch of one account's frames is ingested as that account; a
    batch of several accounts as ``sia:receiver`` (each event's ``source`` still names its
    account). If ``accept`` refuses a batch (an :class:`IngestError`), each frame is
    retried alone, so only the refused one is refused. Order of submission is kept, except
    that the frames of a refused batch, retried alone, land after a batch already in flight.
    """

    def __init__(self, accept: Accept, max_events: int) -> None:
        self._accept = accept
        self._max_events = max_events
        self._queue: collections.deque[_Pending] = collections.deque()
        self._inflight: set[asyncio.Task[None]] = set()
        self._scheduled = False

    def add(self, events: list[EventIn], actor: Actor, raw: list[str | None], done: Done) -> None:
        """Queue one frame's events; ``done`` is called once they are durable, or with what
        ``accept`` raised for them. A callback, not a future: a TCP connection answers its
        frame from it without a task waking up (:mod:`.sia_tcp`)."""
        self._queue.append(_Pending(events, actor, raw, done, None))
        self._schedule()

    async def submit(self, events: list[EventIn], actor: Actor, raw: list[str | None]) -> None:
        """Ingest one frame's events; returns once they are durable.

        Raises:
            whatever ``accept`` raised for them.
        """
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(events, actor, raw, functools.partial(_settle, future), future))
        self._schedule()
        await future

    @property
    def waiting(self) -> bool:
        """Whether frames are queued or being accepted."""
        return bool(self._queue or self._inflight)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)  # after this loop turn: frames read together go together

    def _pump(self) -> None:
        self._scheduled = False
        while self._queue and (len(self._inflight) < _MAX_INFLIGHT or self._max_events == 1):
            batch: list[_Pending] = []
            count = 0
            while self._queue and (not batch or count + len(self._queue[0].events) <= self._max_events):
                item = self._queue.popleft()
                if item.future is None or not item.future.done():  # else its waiter was cancelled: not stored
                    batch.append(item)
                    count += len(item.events)
            if not batch:
                continue
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._inflight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._queue:
            self._schedule()

    async def _run(self, batch: list[_Pending]) -> None:
        """Accept the batch, then tell each frame; one frame's ``done`` failing does not keep
        the others from being told, and a batch ``drain`` cuts off tells the frames not told yet."""
        try:
            await self._accept_batch(batch)
        except asyncio.CancelledError:  # not stored as far as anyone knows
            for item in batch:
                _tell(item, _CUT_OFF)
            raise

    async def _accept_batch(self, batch: list[_Pending]) -> None:
        actors = {item.actor for item in batch}
        actor = actors.pop() if len(actors) == 1 else RECEIVER_ACTOR
        events = [event for item in batch for event in item.events]
        raw = [text for item in batch for text in item.raw]
        try:
            await self._accept(events, actor, raw=raw)
        except IngestError as exc:
            if len(batch) == 1:
                _tell(batch[0], exc)
                return
            for item in batch:  # find the refused frame(s): the others are fine
                try:
                    await self._accept(item.events, item.actor, raw=item.raw)
                except Exception as one:  # noqa: BLE001 - handed to the frame's waiter
                    _tell(item, one)
                else:
                    _tell(item, None)
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, who logs it
            for item in batch:
                _tell(item, exc)
        else:
            for item in batch:
                _tell(item, None)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` s until every frame queued or in flight has been told how it
        fared, then cancel the calls still in flight and drop what still waits (``stop``):
        those frames are told :class:`StoreUnavailable`, so never ACKed, and their panels
        resend them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.waiting and (left := deadline - loop.time()) > 0:
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=left, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(0)  # the next batch leaves on the next turn
        while self._queue:
            _tell(self._queue.popleft(), _CUT_OFF)
        late = set(self._inflight)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def _tell(item: _Pending, error: BaseException | None) -> None:
    """Tell a frame how it fared, once (a frame cut off by ``drain`` may have been told already)."""
    if item.told:
        return
    item.told = True
    try:
        item.done(error)
    except Exception:
        log.exception("sia frame: telling its connection how it fared failed")


def _settle(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if future.done():  # its frame's handler was cancelled: nobody waits
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
