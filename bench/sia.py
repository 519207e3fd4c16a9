"""SIA DC-09 receiver benchmark: frames ACKed per second, and ACK latency under a paced load.

Run: ``.venv/bin/python bench/sia.py [--quick] [--only MODE] [--loop asyncio|uvloop]``. The
server runs in a process of its own (on a free loopback port, on uvloop by default, as under
``tocsin serve``), the simulated panels (``_panels.py``) in another, so the two do not share one
interpreter's GIL. Each measurement is made in four modes (``MODES``): the receiver alone
(``accept`` a no-op), and tocsin's real path (guard, classify, correlate, SQLite group commit
with ``synchronous=FULL``, a fresh database) with the receiver in a child process of its own
(``sia.own_process``, the default) that ACKs a frame once it is fdatasync'd in its journal
and has the engine commit it in bulk milliseconds later (``sia.journal``, the default), the
same without the journal (an ACK waits for the engine's commit), and with the receiver in
the engine's process. Measures:

1. throughput: frames/s ACKed over ``--connections`` (50) TCP connections, each a panel
   that sends its next frame when the previous one is ACKed (as DC-09 panels do); the
   median of three runs in a full run, as the host's speed drifts between runs;
2. latency: frames paced at ``--rate`` (2,000/s) over the same connections, time from the
   moment a frame was *due* (so a late send counts against us) to its ACK, p50/p90/p99/max;
3. isolation (tocsin modes): the same paced latency while 4 HTTP clients flood the same
   server with batches of 100 events (``bench/_load.py``'s closed loop, as ``bench/ingest.py``
   runs it), and how many HTTP events/s the server took meanwhile: whether panels' ACKs
   wait behind HTTP ingest, in either placement of the receiver.

The tocsin modes run the server as ``tocsin serve`` does (``build_app`` under uvicorn, with
a device token for the HTTP clients).

Every frame is a clear SIA-DCS burglary alarm with a timestamp (so the window is checked)
and one event; each connection is one account on its own site. Prints a table; ``--json``
also writes the numbers to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from _host import HostSpeed
from _http import run_async
from _metrics import CommitCounters, commit_counters, commit_means, scrape
from _panels import account_id, load_main

HOST = "127.0.0.1"
DB_NAME = "sia-bench.db"
TARGET_FPS = 20_000
TARGET_P99_MS = 20.0
OTHER_CPU_WARN_PCT = 15.0
"""Foreign CPU use (% of one core) during a measurement above which it is repeated, then flagged."""
DISTURBED_RETRIES = 2
DEFAULT_LOOP = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
"""``tocsin serve`` runs on uvicorn's loop, which is uvloop whenever it is installed."""


@dataclass(frozen=True)
class Sizes:
    """How long each measurement runs; ``--quick`` shrinks them for a smoke run."""

    warmup_s: float
    throughput_s: float
    latency_s: float
    throughput_runs: int
    """Throughput runs per mode; the median is reported (a shared host's speed drifts between runs)."""


FULL = Sizes(warmup_s=2.0, throughput_s=10.0, latency_s=10.0, throughput_runs=3)
QUICK = Sizes(warmup_s=0.5, throughput_s=2.0, latency_s=2.0, throughput_runs=1)


@dataclass
class Row:
    name: str
    accept: str
    frames: int
    seconds: float
    fps: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    server_cpu_pct: float | None = None
    load_cpu_pct: float | None = None
    other_cpu_pct: float | None = None
    unanswered: int = 0
    http_eps: float | None = None
    """HTTP events/s the server accepted during the measurement (isolation rows only)."""
    events_per_commit: float | None = None
    group_ms: float | None = None
    """Mean time the engine took per group commit, from its first job to its COMMIT (tocsin modes)."""
    disturbed: bool = False
    runs_fps: list[float] | None = None
    """frames/s of each run, where the row is the median of several."""
    window: tuple[float, float] = (0.0, 0.0)
    """``time.monotonic`` at the start and the end of the measurement."""
    host_speed: float | None = None
    """The host's speed meanwhile against the fastest seen in the benchmark (``_host.HostSpeed``)."""
    runs_host_speed: list[float | None] | None = None
    """``host_speed`` of each run, where the row is the median of several."""
    runs_window: list[tuple[float, float]] | None = None


# -- the receiver, in its own process ---------------------------------------------------------


def server_main(pipe: Connection, mode: str, connections: int, db_dir: str, synchronous: str, loop: str) -> None:
    """Run a receiver until told to stop; report its port, then its counters and CPU time.

    ``loop`` ``uvloop`` is what ``tocsin serve`` runs on (uvicorn picks it when installed).
    """
    if loop == "uvloop":
        import uvloop

        uvloop.run(_serve(pipe, mode, connections, db_dir, synchronous))
    else:
        asyncio.run(_serve(pipe, mode, connections, db_dir, synchronous))


MODES = {
    "noop": "the receiver alone",
    "tocsin": "as tocsin serve runs it: the receiver in a process of its own, ACKing once a frame is in its journal",
    "tocsin-no-journal": "the same with sia.journal = false: ACKing once the engine has committed the frame",
    "tocsin-shared": "the receiver in the engine's process (sia.own_process = false)",
}
"""Where ``accept`` leads, by the name the table shows."""


async def _serve(pipe: Connection, mode: str, connections: int, db_dir: str, synchronous: str) -> None:
    from tocsin.ingest.sia import SiaAccount, SiaConfig, SiaReceiver
    from tocsin.model import Actor, EventIn

    accounts = [SiaAccount(id=account_id(i), site=f"bench-site-{i}") for i in range(connections)]
    config = SiaConfig(
        tcp=f"{HOST}:0",
        account=accounts,
        max_connections=connections + 10,
        own_process=mode in ("tocsin", "tocsin-no-journal"),
        journal=mode != "tocsin-no-journal",
    )
    runtime: Any = None
    http_port: int | None = None
    receiver: Any
    if mode == "noop":
        counter = 0

        async def accept(
            events: Sequence[EventIn], actor: Actor, *, raw: Sequence[str | None] | None = None
        ) -> list[tuple[int, int | None]]:
            nonlocal counter
            counter += len(events)
            return [(counter, None)] * len(events)

        receiver = SiaReceiver(config, accept)
        await receiver.start()
    else:  # as tocsin serve runs it: the app under uvicorn, the receiver started by its runtime
        import uvicorn

        from tocsin.app import build_app
        from tocsin.config import load_settings

        settings = load_settings(None, db=str(Path(db_dir) / DB_NAME), synchronous=synchronous, log_level="WARNING")
        app = build_app(msgspec.structs.replace(settings, sia=config))
        http = socket.create_server((HOST, 0), backlog=1024)
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[http]))
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped before it started")
            await asyncio.sleep(0.05)
        runtime = app.state.runtime
        receiver = runtime.sia
        http_port = http.getsockname()[1]
    loop = asyncio.get_running_loop()
    pipe.send((receiver.bound_tcp, http_port))
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "mark":
            pipe.send(time.process_time() + _child_cpu_s(getattr(receiver, "pid", None)))
        else:
            break
    if runtime is not None:
        server.should_exit = True
        await serving
    else:
        await receiver.stop()
    pipe.send(asdict_metrics(receiver))


def _child_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by the receiver's own process, if it has one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def asdict_metrics(receiver: Any) -> dict[str, int]:
    counters: dict[str, int] = msgspec.structs.asdict(receiver.metrics)
    return counters


# -- the HTTP flood, in a third process --------------------------------------------------------


def flood_main(pipe: Connection, port: int, token: str, seconds: float) -> None:
    """Batches of 100 from 4 clients for ``seconds``: ``bench/ingest.py``'s batched shape."""
    from _load import Target, closed_loop

    target = Target("tocsin", HOST, port, token)
    coro = closed_loop(
        target, clients=4, batch=100, duration=seconds, max_items=10**9, seed=7, tag="flood", new_share=0.05
    )
    pipe.send(run_async(coro))


# -- orchestration -----------------------------------------------------------------------------


def busy_cpu_s() -> float:
    """CPU seconds spent busy on all cores since boot (``/proc/stat``; 0 elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:9]]
    except OSError:
        return 0.0
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


_RUNS = itertools.count(1)
"""Numbers the load processes, so that no two send the same frames (see ``_panels.Frames``)."""


def _run_load(addr: tuple[str, int], connections: int, seconds: float, rate: float | None) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=load_main, args=(child, addr, connections, seconds, rate, next(_RUNS)), daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc.start()
    try:
        result: dict[str, Any] = parent.recv()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the reaped load process, start-up included
    result["process_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def wait_quiet(limit_pct: float, patience_s: float = 60.0) -> float:
    """Wait (up to ``patience_s``) for a second in which the machine is nearly idle; its busy %."""
    deadline = time.monotonic() + patience_s
    while True:
        busy0 = busy_cpu_s()
        time.sleep(1.0)
        busy_pct = 100 * (busy_cpu_s() - busy0)
        if busy_pct <= limit_pct or time.monotonic() > deadline:
            return busy_pct


def _commits(http_port: int | None) -> CommitCounters | None:
    """The engine's group commits so far; None without an HTTP port (the noop receiver has no engine)."""
    return commit_counters(scrape(HOST, http_port)) if http_port is not None else None


def _measure_once(
    parent: Connection,
    addr: tuple[str, int],
    mode: str,
    name: str,
    connections: int,
    seconds: float,
    rate: float | None,
    flood: tuple[int, str] | None = None,
    http_port: int | None = None,
) -> Row:
    """One measurement; ``flood`` (HTTP port, token) floods the server over HTTP meanwhile.

    The CPU columns then cover the flood's whole run, and its client process counts as load.
    ``http_port``: where the engine serves ``/metrics``, for its group commits meanwhile.
    """
    commits0 = _commits(http_port)
    parent.send("mark")
    cpu0 = parent.recv()
    busy0 = busy_cpu_s()
    began = time.monotonic()  # monotonic: the host sampler's clock, in another process
    if flood is None:
        result = _run_load(addr, connections, seconds, rate)
        http_eps = None
        load_cpu, foreign = result["cpu_s"], result["process_cpu_s"]
    else:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with _flooding(*flood, seconds + 2 * FLOOD_LEAD_S) as flooded:
            time.sleep(FLOOD_LEAD_S)  # the flood at full speed before the first frame
            result = _run_load(addr, connections, seconds, rate)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # both client processes, reaped
        http_eps = round(flooded["items_per_s"], 1)
        load_cpu = foreign = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    ended = time.monotonic()
    busy = busy_cpu_s() - busy0
    parent.send("mark")
    server_cpu = parent.recv() - cpu0
    means = commit_means(commits0, _commits(http_port))
    wall = result["seconds"]
    span = wall if flood is None else ended - began  # the CPU columns' time base
    lat = sorted(result["latencies"])
    return Row(
        name=name,
        accept=mode,
        frames=result["acks"],
        seconds=round(wall, 2),
        fps=round(result["acks"] / wall, 1),
        p50_ms=round(_percentile(lat, 0.50) * 1000, 2),
        p90_ms=round(_percentile(lat, 0.90) * 1000, 2),
        p99_ms=round(_percentile(lat, 0.99) * 1000, 2),
        max_ms=round(lat[-1] * 1000, 2) if lat else None,
        server_cpu_pct=round(100 * server_cpu / span, 1),
        load_cpu_pct=round(100 * load_cpu / span, 1),
        other_cpu_pct=round(max(0.0, 100 * (busy - server_cpu - foreign) / span), 1),
        unanswered=result["other"],
        http_eps=http_eps,
        events_per_commit=round(means[1], 1) if means else None,
        group_ms=round(means[2], 2) if means else None,
        window=(began, ended),
    )


FLOOD_LEAD_S = 1.0
"""How long the HTTP flood runs before the paced frames start, and after they end."""


@contextlib.contextmanager
def _flooding(port: int, token: str, seconds: float) -> Iterator[dict[str, Any]]:
    """Flood the server over HTTP in a process of its own; yields the flood's summary,
    filled in once the block has ended and the flood has finished."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=flood_main, args=(child, port, token, seconds), daemon=True)
    proc.start()
    summary: dict[str, Any] = {}
    try:
        yield summary
        summary.update(parent.recv())
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def measure(
    mode: str, connections: int, sizes: Sizes, rate: float, synchronous: str, loop: str = "asyncio"
) -> tuple[list[Row], dict[str, int]]:
    """Start a receiver, warm it up, then run the throughput and the paced measurement.

    A measurement during which the rest of the machine used more than
    :data:`OTHER_CPU_WARN_PCT` of a core is repeated (up to :data:`DISTURBED_RETRIES`
    times, after waiting for a quiet second) and flagged if it stays disturbed.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    with tempfile.TemporaryDirectory(prefix="tocsin-sia-bench-") as db_dir:
        token = _device_token(Path(db_dir) / DB_NAME) if mode != "noop" else None
        server_args = (child, mode, connections, db_dir, synchronous, loop)
        server = ctx.Process(target=server_main, args=server_args, daemon=True)
        server.start()
        rows: list[Row] = []
        try:
            addr, http_port = parent.recv()
            _run_load(addr, connections, sizes.warmup_s, None)
            plan: list[tuple[str, float, float | None, tuple[int, str] | None]] = [
                ("throughput", sizes.throughput_s, None, None),
                (f"latency @ {rate:,.0f}/s", sizes.latency_s, rate, None),
            ]
            if http_port is not None and token is not None:
                plan.append((f"+HTTP flood @ {rate:,.0f}/s", sizes.latency_s, rate, (http_port, token)))
            for name, seconds, paced, flood in plan:
                once = functools.partial(
                    _measure_once, parent, addr, mode, name, connections, seconds, paced, flood, http_port
                )
                runs = [_steady(once) for _ in range(sizes.throughput_runs if name == "throughput" else 1)]
                row = sorted(runs, key=lambda r: r.fps)[(len(runs) - 1) // 2]
                if len(runs) > 1:
                    row.runs_fps = [r.fps for r in runs]
                    row.runs_window = [r.window for r in runs]
                rows.append(row)
            parent.send("stop")
            counters: dict[str, int] = parent.recv()
        finally:
            server.join(timeout=30)
            if server.is_alive():
                server.kill()
    return rows, counters


def _steady(measure: Callable[[], Row]) -> Row:
    """``measure()``, repeated (up to :data:`DISTURBED_RETRIES` times, after a quiet second)
    while the rest of the machine was busy meanwhile; flagged if it stays so."""
    for _ in range(1 + DISTURBED_RETRIES):
        wait_quiet(OTHER_CPU_WARN_PCT)
        row = measure()
        row.disturbed = (row.other_cpu_pct or 0.0) > OTHER_CPU_WARN_PCT
        if not row.disturbed:
            break
    return row


def _device_token(db: Path) -> str:
    """A device token for the HTTP flood, made as an operator would (``tocsin token create``)."""
    command = [sys.executable, "-m", "tocsin", "token", "create", "--db", str(db), "--role", "device"]
    return subprocess.run([*command, "--name", "flood"], check=True, capture_output=True, text=True).stdout.strip()


def _fmt(value: float | None, spec: str = ",.1f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def print_table(rows: list[Row], connections: int, synchronous: str, loop: str = "asyncio") -> None:
    header = (
        f"{'measurement':<22}{'accept':<15}{'frames':>9}{'frames/s':>11}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'srv CPU%':>10}{'load CPU%':>11}{'other CPU%':>12}"
        f"{'HTTP ev/s':>11}{'ev/commit':>11}{'group ms':>10}{'host':>6}"
    )
    print(
        f"\nSIA DC-09 receiver ({loop} event loop), {connections} TCP connections, stop-and-wait panels, "
        f"SQLite {synchronous}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<22}{row.accept:<15}{row.frames:>9,}{_fmt(row.fps):>11}{_fmt(row.p50_ms, '.2f'):>9}"
            f"{_fmt(row.p90_ms, '.2f'):>9}{_fmt(row.p99_ms, '.2f'):>9}{_fmt(row.max_ms, '.2f'):>9}"
            f"{_fmt(row.server_cpu_pct):>10}{_fmt(row.load_cpu_pct):>11}{_fmt(row.other_cpu_pct):>12}"
            f"{_fmt(row.http_eps, ',.0f'):>11}{_fmt(row.events_per_commit):>11}{_fmt(row.group_ms, '.2f'):>10}"
            f"{_fmt(row.host_speed, '.2f'):>6}" + ("  disturbed" if row.disturbed else "")
        )
    for row in rows:
        if row.runs_fps:
            runs = ", ".join(f"{fps:,.0f}" for fps in row.runs_fps)
            speeds = ", ".join(_fmt(speed, ".2f") for speed in row.runs_host_speed or [])
            print(
                f"{row.name} ({row.accept}): median of {len(row.runs_fps)} runs of frames/s: {runs}"
                + (f"; host speed during each: {speeds}" if speeds else "")
            )
    print()
    for mode in ("tocsin", "tocsin-no-journal"):
        tocsin = {row.name.split()[0]: row for row in rows if row.accept == mode}
        if "throughput" in tocsin:
            verdict = "meets" if tocsin["throughput"].fps >= TARGET_FPS else "misses"
            print(f"target {TARGET_FPS:,} frames/s ACKed ({mode}): {verdict} ({tocsin['throughput'].fps:,.0f})")
        if "latency" in tocsin and tocsin["latency"].p99_ms is not None:
            verdict = "meets" if tocsin["latency"].p99_ms < TARGET_P99_MS else "misses"
            print(f"target p99 < {TARGET_P99_MS:.0f} ms at the paced rate ({mode}): {verdict}")
    for mode in ("tocsin", "tocsin-no-journal", "tocsin-shared"):
        quiet = next((r for r in rows if r.accept == mode and r.name.startswith("latency")), None)
        flooded = next((r for r in rows if r.accept == mode and r.name.startswith("+HTTP")), None)
        if quiet and flooded and quiet.p99_ms and flooded.p99_ms:
            print(
                f"isolation ({mode}): ACK p99 {flooded.p99_ms:.2f} ms under the HTTP flood "
                f"({flooded.p99_ms / quiet.p99_ms:.1f}x the quiet {quiet.p99_ms:.2f} ms), "
                f"while the server took {_fmt(flooded.http_eps, ',.0f')} HTTP events/s"
            )
    for mode, meaning in MODES.items():
        print(f"accept {mode}: {meaning};")
    print("srv CPU%: the server's processes (event loops, tocsin's writer thread), 100% = one core;")
    print("other CPU%: what the rest of the machine used meanwhile (near 0 for clean numbers);")
    print(
        "host: how fast the host let Python run meanwhile, against the fastest it did during this benchmark"
        " (1.00 = full speed; bench/_host.py);"
    )
    print("+HTTP flood: the paced frames while 4 clients post batches of 100 events (load CPU% includes them);")
    print("HTTP ev/s: the events the server accepted over HTTP meanwhile;")
    print(
        "ev/commit, group ms: the engine's group commits meanwhile (all lanes), events in each and time from its"
        " first job to its COMMIT: a stop-and-wait panel's frame waits for the group in progress, then its own."
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {sys.version.split()[0]}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2000.0, help="frames/s of the latency measurement")
    parser.add_argument("--only", choices=list(MODES), help="run one mode only (see MODES)")
    parser.add_argument("--synchronous", default="FULL", help="SQLite synchronous pragma of the tocsin path")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=DEFAULT_LOOP,
        help="the receiver's event loop (default: uvloop when installed, as tocsin serve uses)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rows: list[Row] = []
    counters: dict[str, dict[str, int]] = {}
    host = HostSpeed()
    host.start()
    try:
        for mode in MODES:
            if args.only in (None, mode):
                measured, counters[mode] = measure(
                    mode, args.connections, sizes, args.rate, args.synchronous, args.loop
                )
                rows += measured
    finally:
        host.stop()
    for row in rows:
        row.host_speed = host.during(*row.window)
        if row.runs_window is not None:
            row.runs_host_speed = [host.during(*window) for window in row.runs_window]
    print_table(rows, args.connections, args.synchronous, args.loop)
    for mode, counted in counters.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in counted.items() if v and k != "connections")
        print(f"receiver counters ({mode}): {shown}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
