"""The simulated city alarm feed, posted to a running server: :func:`run_simulation`.

Why this exists: tocsin has to be exercised end to end (correlation, chattering devices,
active/cleared pairs, the unclassified path, back-pressure) with traffic that looks like a
real city's long before a real alarm receiving centre is connected. The simulator is split
by concept:

* :mod:`tocsin.simulate_city` holds the fictional city's data tables: alarm-type keys,
  named sites and their devices, roads, SIA codes, and :class:`Site`.
* :mod:`tocsin.simulate_feed` holds :class:`CityFeed`, a pure, seeded generator of
  ``EventIn``-shaped dicts for that city: about sixty named sites with their devices, a
  handful of roads, patrol officers and the public calling in. The same seed and the same
  sequence of ``now`` values give the same events. It does no I/O and reads no clock.
* This module owns :func:`run_simulation`, which posts that feed to ``POST /api/v1/events``
  at a steady rate, honours ``Retry-After`` and never silently drops a batch on overload
  or network errors, and :class:`SimStats`, what a run achieved. It re-exports the names
  of the other two modules, so ``tocsin.simulate`` stays the one import for users.

It does not own the event schema (:mod:`tocsin.model`), the alarm-type dictionary or any
correlation rule: the server decides what becomes an incident. It has no command line of
its own; a CLI can wrap :func:`run_simulation`.

By design it never generates anything about people's identity (names, faces, number
plates, ethnicity, religion, politics) nor about protests or gatherings: tocsin refuses
such data, and a demo feed should not teach anyone otherwise.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

import httpx
import msgspec

from tocsin.simulate_city import ALARM_TYPES as ALARM_TYPES
from tocsin.simulate_city import UNKNOWN_TYPES as UNKNOWN_TYPES
from tocsin.simulate_city import Event
from tocsin.simulate_city import Site as Site
from tocsin.simulate_feed import CityFeed as CityFeed

__all__ = ("ALARM_TYPES", "UNKNOWN_TYPES", "CityFeed", "SimStats", "Site", "run_simulation")

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SimStats:
    """What a simulation run achieved. Counts are events unless noted."""

    requests: int = 0
    """HTTP requests made (including resends)."""
    accepted: int = 0
    """Events the server accepted (from its ``accepted`` count)."""
    rejected: int = 0
    """Events in batches the server refused (4xx other than 429, or a persistent 5xx)."""
    retried: int = 0
    """Resends of a batch, after 503/429, a 5xx or a network error."""
    errors: int = 0
    """Network errors and 5xx answers other than 503."""
    unsent: int = 0
    """Events still waiting to be resent when the run's duration ran out."""
    elapsed: float = 0.0
    """Seconds since the run started."""


class _Accepted(msgspec.Struct):
    accepted: int


_BATCH_WINDOW: Final = 0.25
"""Seconds of traffic per request: below 1/_BATCH_WINDOW events/s every event goes alone."""
_BACKOFF_INITIAL = 0.5
_BACKOFF_MAX: Final = 30.0
_MAX_RETRY_AFTER: Final = 300.0
_MAX_SERVER_ERRORS: Final = 5
_BODY_LOG_CHARS: Final = 1000


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class _Poster:
    """Delivers one batch at a time; owns retries, never the pacing."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        token: str,
        stats: SimStats,
        deadline: float | None,
        batch_cap: int,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "tocsin-simulate",
        }
        self.stats = stats
        self.deadline = deadline
        self.batch_cap = batch_cap
        self.waited = 0.0
        """Seconds spent waiting before resends; the pacer re-anchors instead of bursting."""

    async def _pause(self, seconds: float, batch: Sequence[Event]) -> bool:
        """Wait before a resend; False (and the batch counted unsent) if the run ends first."""
        if self.deadline is not None and time.monotonic() + seconds >= self.deadline:
            await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
            self.stats.unsent += len(batch)
            log.warning("run ended while a batch awaited resending", extra={"batch_size": len(batch)})
            return False
        await asyncio.sleep(seconds)
        self.waited += seconds
        self.stats.retried += 1
        return True

    async def deliver(self, batch: Sequence[Event]) -> None:
        body = msgspec.json.encode(batch[0] if len(batch) == 1 else list(batch))
        failures = 0
        server_errors = 0
        while True:
            self.stats.requests += 1
            try:
                resp = await self.client.post(self.endpoint, content=body, headers=self.headers)
            except httpx.TransportError as exc:
                self.stats.errors += 1
                delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures) * random.uniform(0.5, 1.0)
                failures += 1
                log.warning(
                    "network error, will resend",
                    extra={"error": repr(exc), "batch_size": len(batch), "delay_s": round(delay, 3)},
                )
                if not await self._pause(delay, batch):
                    return
                continue
            status = resp.status_code
            if 200 <= status < 300:
                self._count_accepted(resp, len(batch))
                return
            if status in (429, 503):
                delay = _retry_after(resp.headers.get("Retry-After"))
                if delay is None:
                    delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures)
                failures += 1
                log.info("server busy, will resend", extra={"status_code": status, "delay_s": delay})
                if not await self._pause(delay, batch):
                    return
                continue
            if status == 413 and len(batch) > 1:
                self.batch_cap = max(1, len(batch) // 2)
                log.info("batch too large, splitting", extra={"batch_size": len(batch)})
                await self.deliver(batch[: len(batch) // 2])
                await self.deliver(batch[len(batch) // 2 :])
                return
            if status >= 500 and server_errors < _MAX_SERVER_ERRORS:
                server_errors += 1
                self.stats.errors += 1
                delay = min(_BACKOFF_MAX, _BACKOFF_INITIAL * 2**failures)
                failures += 1
                log.warning("server error, will resend", extra={"status_code": status, "delay_s": delay})
                if not await self._pause(delay, batch):
                    return
                continue
            self.stats.rejected += len(batch)
            log.error(
                "server rejected batch",
                extra={"status_code": status, "batch_size": len(batch), "body": resp.text[:_BODY_LOG_CHARS]},
            )
            return

    def _count_accepted(self, resp: httpx.Response, sent: int) -> None:
        try:
            accepted = msgspec.json.decode(resp.content, type=_Accepted).accepted
        except msgspec.DecodeError:
            log.warning("unreadable acceptance, assuming all accepted", extra={"batch_size": sent})
            accepted = sent
        self.stats.accepted += accepted
        if accepted < sent:
            self.stats.rejected += sent - accepted


async def run_simulation(
    url: str,
    token: str,
    rate: float,
    *,
    duration: float | None = None,
    seed: int | None = None,
    batch_max: int = 50,
    client: httpx.AsyncClient | None = None,
    on_progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Post a :class:`CityFeed` to ``url + "/api/v1/events"`` at about ``rate`` events/s.

    Below ``1/_BATCH_WINDOW`` (4) events/s every event goes alone as a JSON object; above,
    events go as JSON arrays of up to ``batch_max``. Requests are sequential, so events
    arrive in the order generated (an ``active`` before its ``cleared``). A 503 or 429 is
    waited out (``Retry-After``, else exponential backoff) and the same batch resent;
    network errors and other 5xx are backed off and resent too (5xx at most five times);
    a 413 splits the batch; any other 4xx is logged and counted as rejected.

    Runs for ``duration`` seconds, or until cancelled. A batch still being retried when the
    duration runs out is counted in :attr:`SimStats.unsent`, not lost silently.
    ``on_progress`` gets a snapshot after every batch and once at the end, also when the
    run is cancelled. A ``client`` passed in is left open; one made here is closed.
    """
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError("rate must be a positive number of events per second")
    if batch_max < 1:
        raise ValueError("batch_max must be at least 1")
    if duration is not None and duration < 0:
        raise ValueError("duration must not be negative")
    endpoint = url.rstrip("/") + "/api/v1/events"
    own_client = client is None
    http = client if client is not None else httpx.AsyncClient(timeout=10.0)
    stats = SimStats()
    feed = CityFeed(seed)
    started = start = time.monotonic()
    deadline = None if duration is None else start + duration
    poster = _Poster(http, endpoint, token, stats, deadline, batch_max)
    base = max(1, min(batch_max, int(rate * _BATCH_WINDOW)))
    buffer: deque[Event] = deque()
    dispatched = 0
    log.info(
        "simulation started",
        extra={"endpoint": endpoint, "rate": rate, "duration_s": duration, "seed": seed, "batch_size": base},
    )
    try:
        while True:
            behind = int((time.monotonic() - start) * rate) - dispatched
            size = max(1, min(poster.batch_cap, max(base, behind)))
            due = start + (dispatched + size - 1) / rate
            if deadline is not None and due >= deadline:
                break
            while len(buffer) < size:
                buffer.extend(feed.next_events(datetime.now(UTC)))
            batch = [buffer.popleft() for _ in range(size)]
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            dispatched += size
            poster.waited = 0.0
            await poster.deliver(batch)
            if poster.waited > 0:  # the server asked us to slow down: do not burst to catch up
                start = time.monotonic() - dispatched / rate
            stats.elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(replace(stats))
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        stats.elapsed = time.monotonic() - started
        if own_client:
            await http.aclose()
        log.info("simulation finished", extra={"stats": repr(stats)})
        if on_progress is not None:
            on_progress(replace(stats))
    return stats
