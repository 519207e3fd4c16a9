"""Load shapes for ``bench/ingest.py``, run in a worker process of their own.

The same shapes drive both peers; only the request body differs (a tocsin event array or
object, or an Alertmanager alert array). Each shape returns a plain dict of numbers, so
the driver can pickle it back across the process boundary.

Shapes:
- ``closed_loop``: N clients, each sending its next request as soon as the last answered.
- ``paced``: alarms at a fixed rate over a pool of connections (one per request by
  default), each on a brand-new site (so each opens an incident); returns the send time
  per site.
- ``preload``: distinct sites in big batches, to fill a store with open incidents;
  ``prime``: every site of the repeating pool once, before a closed-loop run.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from _http import Client, run_async

__all__ = ("TYPES", "Mix", "Target", "worker_main")

_encode = msgspec.json.Encoder().encode

TYPES = (
    "fire.smoke",
    "fire.alarm",
    "intrusion.burglary",
    "medical.emergency",
    "traffic.collision",
    "tech.low_battery",
    "utility.water_leak",
)
_TYPE_CUM = list(itertools.accumulate((10, 6, 8, 3, 3, 20, 5)))

POOL = 2000
"""Sites that repeat in the closed-loop mix."""

Ev = tuple[str, str, str, str]
"""(alarm type, site, source, external id) of one alarm."""

_NET_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass(frozen=True)
class Target:
    """Where to send: a tocsin server (``kind="tocsin"``) or an Alertmanager (``"am"``)."""

    kind: str
    host: str
    port: int
    token: str | None = None

    @property
    def path(self) -> str:
        return "/api/v1/events" if self.kind == "tocsin" else "/api/v2/alerts"

    def client(self) -> Client:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return Client(self.host, self.port, headers)

    def body(self, evs: list[Ev], *, single: bool = False) -> bytes:
        """The request body for these alarms; ``single`` sends tocsin one object, not an array."""
        if self.kind == "tocsin":
            items = [
                {"type": t, "method": "equipment", "source": src, "site": site, "external_id": ext}
                for t, site, src, ext in evs
            ]
            return _encode(items[0] if single and len(items) == 1 else items)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return _encode(
            [
                {
                    "labels": {"alertname": t, "site": site, "source": src},
                    "annotations": {"external_id": ext, "summary": f"{t} at {site}"},
                    "startsAt": now,
                }
                for t, site, src, ext in evs
            ]
        )


class Mix:
    """A stream of alarms: repeats over a pool of sites, plus a share on brand-new sites.

    Pool sites are drawn Zipf-like (a few busy sites, a long tail), each always with its
    own alarm type (a site's panel keeps reporting the same condition), so once the pool
    has been seen every pool alarm joins an open incident and only the ``new_share`` on
    brand-new sites opens one. The source is the site's panel, so Alertmanager's label
    set (alertname, site, source) deduplicates exactly where tocsin correlates (type,
    site). ``pool=0`` makes every alarm a new site.
    """

    def __init__(self, seed: int, tag: str, *, pool: int, new_share: float) -> None:
        self._rng = random.Random(seed)
        self._tag = tag
        kinds = random.Random(0).choices(TYPES, cum_weights=_TYPE_CUM, k=pool)
        self._pool = [(kinds[i], f"site-{i}") for i in range(pool)]
        self._cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.9 for i in range(pool)))
        self._new = new_share if pool else 1.0
        self._n = 0

    def pool_once(self) -> list[Ev]:
        """Every pool site once: primes a store so pool alarms correlate from then on."""
        return [self._ev(t, site) for t, site in self._pool]

    def _ev(self, alarm_type: str, site: str) -> Ev:
        self._n += 1
        return (alarm_type, site, f"panel-{site}", f"{self._tag}-{self._n}")

    def take(self, k: int) -> list[Ev]:
        rng = self._rng
        picks = rng.choices(self._pool, cum_weights=self._cum, k=k) if self._pool else []
        out: list[Ev] = []
        for i in range(k):
            if not picks or rng.random() < self._new:
                site = f"{self._tag}-new-{self._n + 1}"
                out.append(self._ev(rng.choices(TYPES, cum_weights=_TYPE_CUM)[0], site))
            else:
                out.append(self._ev(*picks[i]))
        return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Stats:
    def __init__(self) -> None:
        self.ok_requests = 0
        self.ok_items = 0
        self.retried_503 = 0
        self.non_2xx: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.first_error: str | None = None
        self.latency: list[float] = []

    def summary(self, elapsed: float, cpu: float) -> dict[str, Any]:
        return {
            "elapsed_s": elapsed,
            "ok_requests": self.ok_requests,
            "ok_items": self.ok_items,
            "items_per_s": self.ok_items / elapsed if elapsed else 0.0,
            "requests_per_s": self.ok_requests / elapsed if elapsed else 0.0,
            "retried_503": self.retried_503,
            "non_2xx": {str(k): v for k, v in sorted(self.non_2xx.items())},
            "errors": dict(self.errors),
            "first_error": self.first_error,
            "ack_p50_ms": _pct(self.latency, 0.50) * 1e3,
            "ack_p99_ms": _pct(self.latency, 0.99) * 1e3,
            "ack_max_ms": max(self.latency, default=float("nan")) * 1e3,
            "client_cpu_s": cpu,
            "client_cpu_pct": 100 * cpu / elapsed if elapsed else 0.0,
        }


async def _send(client: Client, target: Target, body: bytes, items: int, stats: _Stats) -> bool:
    """POST until a final answer: 2xx counts, 503 waits Retry-After and retries, else fails."""
    for _attempt in range(120):
        started = time.perf_counter()
        try:
            resp = await client.request("POST", target.path, body)
        except _NET_ERRORS as exc:
            stats.errors[type(exc).__name__] += 1
            stats.first_error = stats.first_error or f"{type(exc).__name__}: {exc}"
            return False
        if 200 <= resp.status < 300:
            stats.latency.append(time.perf_counter() - started)
            stats.ok_requests += 1
            stats.ok_items += items
            return True
        stats.non_2xx[resp.status] += 1
        if resp.status == 503:
            stats.retried_503 += 1
            await asyncio.sleep(float(resp.headers.get("retry-after", "1") or 1))
            continue
        stats.first_error = stats.first_error or f"HTTP {resp.status}: {resp.body[:300]!r}"
        return False
    return False


async def closed_loop(
    target: Target,
    *,
    clients: int,
    batch: int,
    duration: float,
    max_items: int,
    seed: int,
    tag: str,
    pool: int = POOL,
    new_share: float = 0.05,
    single: bool = False,
) -> dict[str, Any]:
    """``clients`` connections, each sending batches of ``batch`` back to back until
    ``duration`` seconds have passed or ``max_items`` alarms were sent in all."""
    stats = _Stats()
    budget = [max_items]
    conns = [target.client() for _ in range(clients)]
    await asyncio.gather(*(c.connect() for c in conns))
    deadline = time.perf_counter() + duration

    async def run(i: int, client: Client) -> None:
        mix = Mix(seed * 1000 + i, f"{tag}.{i}", pool=pool, new_share=new_share)
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= batch
            await _send(client, target, target.body(mix.take(batch), single=single), batch, stats)

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(run(i, c) for i, c in enumerate(conns)))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return stats.summary(time.perf_counter() - t0, time.process_time() - cpu0)


async def paced(
    target: Target, *, rate: float, duration: float, conns: int, seed: int, tag: str, batch: int = 1
) -> dict[str, Any]:
    """Alarms at ``rate`` a second, each on a new site, ``batch`` per request (one by
    default); returns the send time per site.

    The scheduler queues each request at its due time (catching up if it woke late), and
    a pool of ``conns`` connections sends them; ``lag`` is how late a send was against its
    due time, so a sender (or a server) that could not keep up shows.
    """
    stats = _Stats()
    n = int(rate * duration / batch)
    interval = batch / rate
    mix = Mix(seed, tag, pool=0, new_share=1.0)
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    sends: dict[str, float] = {}
    lags: list[float] = []
    clients = [target.client() for _ in range(conns)]
    await asyncio.gather(*(c.connect() for c in clients))

    async def worker(client: Client) -> None:
        while (due := await queue.get()) is not None:
            evs = mix.take(batch)
            body = target.body(evs, single=batch == 1)
            lags.append(time.perf_counter() - due)
            sent = time.time()
            if await _send(client, target, body, batch, stats):
                for ev in evs:
                    sends[ev[1]] = sent

    cpu0 = time.process_time()
    tasks = [asyncio.create_task(worker(c)) for c in clients]
    t0 = time.perf_counter() + 0.01
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and t0 + i * interval <= now:
            queue.put_nowait(t0 + i * interval)
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + i * interval - time.perf_counter()))
    for _ in tasks:
        queue.put_nowait(None)
    try:
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    elapsed = time.perf_counter() - t0
    out = stats.summary(elapsed, time.process_time() - cpu0)
    out.update(
        sends=sends,
        planned_items=n * batch,
        lag_p50_ms=_pct(lags, 0.50) * 1e3,
        lag_p99_ms=_pct(lags, 0.99) * 1e3,
        lag_max_ms=max(lags, default=float("nan")) * 1e3,
    )
    return out


async def _send_all(target: Target, chunks: list[list[Ev]], clients: int) -> dict[str, Any]:
    stats = _Stats()
    conns = [target.client() for _ in range(clients)]
    todo = list(reversed(chunks))

    async def run(client: Client) -> None:
        while todo:
            evs = todo.pop()
            await _send(client, target, target.body(evs), len(evs), stats)

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(run(c) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return stats.summary(time.perf_counter() - t0, time.process_time() - cpu0)


async def preload(target: Target, *, start: int, count: int, batch: int, clients: int) -> dict[str, Any]:
    """Alarms ``start .. start+count-1``, each on its own site ``open-N`` (one incident each)."""
    evs = [(TYPES[i % len(TYPES)], f"open-{i}", f"panel-open-{i}", f"open-{i}") for i in range(start, start + count)]
    return await _send_all(target, [evs[i : i + batch] for i in range(0, len(evs), batch)], clients)


async def prime(target: Target, *, pool: int, tag: str, batch: int = 100, clients: int = 4) -> dict[str, Any]:
    """Every site of the ``Mix`` pool once, so the measured run starts in a steady state."""
    evs = Mix(0, tag, pool=pool, new_share=0.0).pool_once()
    return await _send_all(target, [evs[i : i + batch] for i in range(0, len(evs), batch)], clients)


SHAPES: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "closed_loop": closed_loop,
    "paced": paced,
    "preload": preload,
    "prime": prime,
}


def worker_main(conn: Connection) -> None:
    """Process entry point: run ``(shape, kwargs)`` requests from ``conn`` until ``None``.

    Ctrl-C is left to the driver, which stops this process itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while (msg := conn.recv()) is not None:
            name, kwargs = msg
            try:
                result: dict[str, Any] = run_async(SHAPES[name](**kwargs))
            except Exception:  # noqa: BLE001 - reported to the driver, which raises it
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", result))
    except (KeyboardInterrupt, EOFError):
        pass
