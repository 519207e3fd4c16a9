"""Supervision: equipment that must be heard from at least every so often, or it is a fault.

A monitoring centre treats silence as a fault of its own: a panel whose line is cut or a
camera that lost power reports nothing, so *not hearing* from it must raise an incident.
:class:`Supervisor` keeps one deadline per supervised source (a SIA account, a camera
that pushes its events); whatever the source sends, a heartbeat included, calls
:meth:`Supervisor.heard` and moves the deadline. A source silent past its period plus a
grace raises ``tech.comm_failure`` (the *episode* starts), and the first time it is heard
again the episode ends with the cleared event, so the incident's condition follows the
line. The events themselves are built by the caller (source, site, wording, external id),
which keeps this module free of any wire format.

Delivery is patient and ordered: each source holds one episode and how many of its two
events are stored (0, 1 active, 2 active and cleared), so an overloaded store is retried
at the next tick with constant memory and a cleared event is never stored before its
active one. A refused event (a guard verdict) is logged and not retried.

It persists nothing of its own: the store already holds every episode's events. At start,
the owner passes the outages still open there (:data:`Outages`, from
``repo.open_episodes``); those sources resume *down*, in the same episode, so their return
clears the incident raised before the restart instead of leaving it active for good. Every
other source gets a full period to be heard again.

Concurrency: use from one event loop; :meth:`Supervisor.heard` is synchronous and cheap
(a dict lookup), so request handlers and receivers call it inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from tocsin.errors import ConfigError, IngestError, StoreUnavailable
from tocsin.model import Condition, EventIn

__all__ = (
    "COMM_FAILURE",
    "DEFAULT_GRACE_S",
    "EPISODE_MARK",
    "EventFactory",
    "Outages",
    "Send",
    "Supervisor",
    "comm_failure",
    "utcnow",
)

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 5.0
"""Extra seconds after a source's period before it is declared failed (network jitter)."""

Send = Callable[[list[EventIn]], Awaitable[object]]
"""Stores supervision events durably (the ingest door with the supervisor's actor).

Raises :class:`~tocsin.errors.StoreUnavailable` when overloaded (retried next tick), an
:class:`~tocsin.errors.IngestError` when refused (logged, not retried).
"""

EventFactory = Callable[[Condition, datetime, datetime], EventIn]
"""Builds a source's event: ``(condition, episode start, when it happened)``.

Equal arguments must give an equal ``external_id``, so a retried event is stored once.
"""


COMM_FAILURE = "tech.comm_failure"
"""The alarm type of an outage."""
EPISODE_MARK = "supervision:"
"""In the external id of every supervision event, and of no event a device sends about itself
(a panel's own ``YC`` report is not an episode of ours to resume or clear)."""

Outages = Mapping[str, datetime]
"""Episodes open in the store at start: event ``source`` -> when the outage began."""

_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """Wall-clock time of outages (UTC, aware); the default clock of every supervisor."""
    return datetime.now(UTC)


def comm_failure(
    condition: Condition,
    at: datetime,
    *,
    source: str,
    site: str | None,
    description: str,
    episode_key: str,
    attributes: dict[str, str | int | float | bool | None] | None = None,
) -> EventIn:
    """The event of one outage starting (``active``) or ending (``cleared``).

    ``episode_key`` names the outage (source and start) and holds :data:`EPISODE_MARK`;
    the external id adds the condition, so a retried event of the same outage is stored once.
    """
    if EPISODE_MARK not in episode_key:
        raise ValueError(f"episode key {episode_key!r} lacks {EPISODE_MARK!r}")
    return EventIn(
        type=COMM_FAILURE,
        method="equipment",
        source=source,
        site=site,
        occurred_at=at,
        condition=condition,
        description=description,
        attributes=attributes or {},
        external_id=f"{episode_key}:{condition}",
    )


class _Watch:
    __slots__ = ("deadline", "down", "episode", "event", "key", "period", "sent", "source", "up_at")

    def __init__(self, key: str, period: float, event: EventFactory) -> None:
        self.key = key
        self.period = period
        self.event = event
        self.source = event("active", _PROBE, _PROBE).source  # the factory is the one place it is spelt
        self.deadline = 0.0  # monotonic time by which the source must be heard from
        self.down = False
        self.episode: datetime | None = None
        self.up_at: datetime | None = None
        self.sent = 0

    def go_down(self, since: datetime, stored: int) -> None:
        """Start an episode that began ``since``, ``stored`` of its events already stored."""
        self.down, self.episode, self.up_at, self.sent = True, since, None, stored


class Supervisor:
    """Deadlines for supervised sources, and the comm-failure episodes they raise.

    Args:
        send: stores a list of events (see :data:`Send`).
        what: names the kind of source in logs (``"sia account"``, ``"camera"``).
        clock: wall-clock time (UTC, aware) of episodes.
        monotonic: seconds on a monotonic clock for deadlines, so a test can move time.
        grace_s: extra seconds after the period before a source is declared failed.
        tick_s: how often the background task checks deadlines.
        on_failure: called with the source's key each time an episode starts (metrics).
    """

    def __init__(
        self,
        send: Send,
        *,
        what: str,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        grace_s: float = DEFAULT_GRACE_S,
        tick_s: float = 1.0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._send = send
        self._what = what
        self._clock = clock
        self._monotonic = monotonic
        self._grace = grace_s
        self._tick = tick_s
        self._on_failure = on_failure or (lambda _key: None)
        self._watches: dict[str, _Watch] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    def watch(self, key: str, period: float, event: EventFactory) -> None:
        """Supervise ``key``: it must be heard from every ``period`` seconds.

        Raises:
            ConfigError: ``key`` is already supervised, or the period is not positive.
        """
        if key in self._watches:
            raise ConfigError(f"{self._what} {key!r} is supervised twice")
        if not period > 0:
            raise ConfigError(f"{self._what} {key!r}: supervision period must be positive, got {period}")
        watch = self._watches[key] = _Watch(key, period, event)
        watch.deadline = self._monotonic() + period + self._grace

    def __contains__(self, key: object) -> bool:
        return key in self._watches

    def __len__(self) -> int:
        return len(self._watches)

    def down(self) -> list[str]:
        """The sources currently in a comm-failure episode."""
        return [w.key for w in self._watches.values() if w.down]

    def heard(self, key: str) -> bool:
        """Note that ``key`` spoke now; ends its episode if it was down.

        Returns:
            Whether ``key`` is supervised.
        """
        watch = self._watches.get(key)
        if watch is None:
            return False
        watch.deadline = self._monotonic() + watch.period + self._grace
        if watch.down:
            watch.down = False
            watch.up_at = self._clock()
            log.info(f"{self._what} reports again", extra={"source": key})
            self._wake.set()  # store the cleared event now, not at the next tick
        return True

    async def check(self) -> None:
        """Declare silent sources failed and store the episode events not yet stored.

        The background task runs this every ``tick_s`` and when a source comes back; a test
        may call it after moving the monotonic clock. Never raises.
        """
        async with self._lock:
            now = self._monotonic()
            for watch in self._watches.values():
                if not watch.down and now > watch.deadline:
                    if watch.episode is not None and watch.sent == 1:
                        log.warning(f"{self._what} supervision: earlier outage's end not stored",
                                    extra={"source": watch.key})  # fmt: skip
                    watch.go_down(self._clock(), stored=0)
                    self.failures += 1
                    self._on_failure(watch.key)
                    extra = {"source": watch.key, "period_s": watch.period}
                    log.warning(f"{self._what} stopped reporting", extra=extra)
            for watch in self._watches.values():
                await self._flush(watch)

    async def _flush(self, watch: _Watch) -> None:
        """Store the current episode's events in order; on failure the next tick retries."""
        while watch.episode is not None and watch.sent < (1 if watch.down else 2):
            episode = watch.episode
            if watch.sent == 0:
                event = watch.event("active", episode, episode)
            else:
                event = watch.event("cleared", episode, watch.up_at or episode)
            try:
                await self._send([event])
            except StoreUnavailable:
                log.info(f"{self._what} supervision event deferred: store unavailable", extra={"source": watch.key})
                return
            except IngestError as exc:
                log.error(f"{self._what} supervision event refused", extra={"source": watch.key, "error": exc.detail})
            except Exception:
                log.exception(f"{self._what} supervision event failed; will retry", extra={"source": watch.key})
                return
            if watch.episode is episode:  # else a new outage began meanwhile: start over
                watch.sent += 1

    def start(self, outages: Outages | None = None) -> None:
        """Give every source a full period from now, and check deadlines in the background.

        A source in ``outages`` (by its events' ``source``) resumes down, in the episode
        that began then, its active event already stored: hearing it stores the cleared one.
        """
        now = self._monotonic()
        outages = outages or {}
        for watch in self._watches.values():
            watch.deadline = now + watch.period + self._grace
            began = outages.get(watch.source)
            if began is not None and watch.episode is None:
                watch.go_down(began, stored=1)  # its active event is the one in the store
                log.info(f"{self._what} outage open before the restart resumed",
                         extra={"source": watch.key, "since": began.isoformat()})  # fmt: skip
        if self._watches and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the background task; an episode event not yet stored is not stored (nothing persists)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick):
                    await self._wake.wait()
            self._wake.clear()
            await self.check()
