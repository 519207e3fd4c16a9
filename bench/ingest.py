"""Ingest benchmark: tocsin against Prometheus Alertmanager on this machine.

Run: ``.venv/bin/python bench/ingest.py [--quick]``. Every measurement starts its own
server on a free loopback port with a fresh temporary database, and everything the script
started is stopped at the end (also on Ctrl-C or an error). Measures:

1. batched ingest: events/s, batches of 100 from 4 concurrent clients, in rounds where
   the peers take turns (three in a full run): the medians, and the median of the rounds'
   ratios, so a machine whose speed drifts does not favour the peer measured first;
2. single-event requests/s from 32 concurrent connections;
3. POST-to-webhook latency with alarms paced at 1,000/s, each opening a new incident;
4. time per event with 10 versus 100,000 open incidents (tocsin only);
5. the same shapes 1-3 against Prometheus Alertmanager (``POST /api/v2/alerts``).

The load generator (a raw asyncio HTTP/1.1 client, ``_http.py``) and the webhook receiver
each run in a process of their own, and the same load shapes (``_load.py``) drive both
peers. Results go to a table and to ``bench/results/ingest.json`` (``--output``).

The machine is small and may be shared: each timed run also records how much CPU other
processes used meanwhile; a full run repeats a disturbed measurement once the machine is
quiet (``--quick`` does not), and the table marks what stayed disturbed. The servers run
whatever ``import tocsin`` finds in this interpreter, so ``PYTHONPATH=/some/checkout/src``
benchmarks another revision; the table says which one ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from _host import HostSpeed
from _http import free_port, run_receiver
from _load import POOL, Target, worker_main
from _metrics import CommitCounters, commit_counters, commit_means, scrape

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ingest.json"
HOST = "127.0.0.1"
SYNCHRONOUS = "FULL"
OTHER_CPU_WARN_PCT = 15.0
"""Foreign CPU use (% of one core) during a measurement above which the run is flagged."""
SCALE_POOL = 10
"""Sites the open-incident scaling workload repeats on (all open in both stores)."""
SCALE_NEW_SHARE = 0.02
"""Share of the scaling workload's alarms on new sites (each opens an incident)."""
AM_BINARIES = ("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=176)


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is; ``--quick`` shrinks everything for a smoke run."""

    warmup_s: float
    batched_s: float
    batched_max_events: int
    batched_rounds: int
    """Batched runs per peer, the peers taking turns: the median is reported, so a machine
    whose speed drifts (a shared host) skews neither peer alone."""
    single_s: float
    single_conns: int
    latency_rate: int
    latency_s: float
    latency_conns: int
    preload_open: int
    preload_batch: int
    scale_warmup_events: int
    scale_events: int
    scale_rounds: int
    retries: int
    """How often a measurement disturbed by other processes is repeated."""


FULL = Sizes(
    warmup_s=2.0,
    batched_s=15.0,
    batched_max_events=200_000,
    batched_rounds=3,
    single_s=10.0,
    single_conns=32,
    latency_rate=1000,
    latency_s=10.0,
    latency_conns=64,
    preload_open=100_000,
    preload_batch=1000,
    scale_warmup_events=5_000,
    scale_events=50_000,
    scale_rounds=3,
    retries=2,
)
QUICK = Sizes(
    warmup_s=0.5,
    batched_s=4.0,
    batched_max_events=40_000,
    batched_rounds=1,
    single_s=3.0,
    single_conns=32,
    latency_rate=1000,
    latency_s=3.0,
    latency_conns=64,
    preload_open=10_000,
    preload_batch=1000,
    scale_warmup_events=2_000,
    scale_events=10_000,
    scale_rounds=2,
    retries=0,
)


# -- processes ------------------------------------------------------------------------------


class Procs:
    """Every process this script starts, so all of them stop however the script ends."""

    def __init__(self) -> None:
        self._popen: list[subprocess.Popen[bytes]] = []
        self._mp: list[BaseProcess] = []

    def popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._popen.append(proc)
        return proc

    def process(self, target: Callable[..., None], *args: Any) -> BaseProcess:
        proc = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
        proc.start()
        self._mp.append(proc)
        return proc

    def child_pids(self) -> list[int]:
        """The benchmark's own helper processes (load generator, receiver)."""
        return [p.pid for p in self._mp if p.pid is not None and p.is_alive()]

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 20.0) -> None:
        """Ask ``proc`` to stop (graceful signal), kill it if it does not within ``timeout``."""
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                console.print(f"[yellow]pid {proc.pid} did not stop in {timeout:.0f}s; killing it")
                proc.kill()
                proc.wait()
        if proc in self._popen:
            self._popen.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._popen)):
            self.stop(proc, signal.SIGTERM, timeout=10)
        for mp in self._mp:
            if mp.is_alive():
                mp.terminate()
                mp.join(5)
            if mp.is_alive():
                mp.kill()
                mp.join()
        self._mp.clear()


class Worker:
    """The load generator's process: runs one shape of ``_load`` at a time."""

    def __init__(self, procs: Procs) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = procs.process(worker_main, child)
        child.close()

    def call(self, shape: str, **kwargs: Any) -> dict[str, Any]:
        self._conn.send((shape, kwargs))
        while not self._conn.poll(1.0):
            if not self._proc.is_alive():
                raise RuntimeError("the load generator process died")
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"load generator failed:\n{value}")
        result: dict[str, Any] = value
        return result

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._proc.join(5)


def http_json(method: str, url: str, timeout: float = 10.0) -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def wait_ready(url: str, proc: subprocess.Popen[bytes] | BaseProcess, log: Path | None, timeout: float) -> float:
    """Seconds until ``url`` answered 200; raises if the process exits or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        dead = proc.poll() is not None if isinstance(proc, subprocess.Popen) else not proc.is_alive()
        if dead:
            tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
            raise RuntimeError(f"process for {url} exited during start-up\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- peers ----------------------------------------------------------------------------------


class Receiver:
    """The webhook receiver process and its control endpoints."""

    def __init__(self, procs: Procs) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/hook"
        proc = procs.process(run_receiver, self.port)
        wait_ready(f"http://{HOST}:{self.port}/__stats", proc, None, timeout=30)

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = http_json("GET", f"http://{HOST}:{self.port}/__stats")
        return result

    def take(self) -> dict[str, Any]:
        """What arrived since the last take (``first``: site -> first receipt time); clears it."""
        result: dict[str, Any] = http_json("POST", f"http://{HOST}:{self.port}/__take", timeout=60)
        return result

    def collect(self, expected: int, *, quiet_s: float = 3.0, max_s: float = 60.0) -> dict[str, Any]:
        """Wait until ``expected`` sites arrived, or nothing arrived for ``quiet_s``; then take."""
        started = last_change = time.monotonic()
        last = -1
        while time.monotonic() - started < max_s:
            st = self.stats()
            if st["sites"] >= expected:
                break
            now = time.monotonic()
            if st["payloads"] != last:
                last, last_change = st["payloads"], now
            elif now - last_change > quiet_s:
                break
            time.sleep(0.2)
        return self.take()


class Server:
    """A peer server under test: started fresh per measurement."""

    name = ""
    stop_signal = signal.SIGTERM

    def __init__(self, procs: Procs, workdir: Path, hook_url: str) -> None:
        self.procs = procs
        self.workdir = workdir
        self.hook_url = hook_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None

    def start(self, label: str, *, webhook: bool = True) -> Target:
        raise NotImplementedError

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc is not None else float("nan")

    def snapshot(self) -> dict[str, Any]:
        return {}

    def open_incidents(self) -> int | None:
        return None

    def commit_counters(self) -> CommitCounters | None:
        """The group commits so far, where the server tells."""
        return None

    def stop(self) -> dict[str, Any]:
        """Stop the server; returns what its log says went wrong (counts by message)."""
        if self.proc is not None:
            self.procs.stop(self.proc, self.stop_signal)
            self.proc = None
        return self.log_issues()

    def log_issues(self) -> dict[str, Any]:
        return {}


class TocsinServer(Server):
    name = "tocsin"
    stop_signal = signal.SIGINT

    def __init__(self, procs: Procs, workdir: Path, hook_url: str) -> None:
        super().__init__(procs, workdir, hook_url)
        self.port = 0
        self.db: Path | None = None
        self.config: Path | None = None

    def start(self, label: str, *, webhook: bool = True) -> Target:
        run_dir = Path(tempfile.mkdtemp(prefix=f"tocsin-{label}-", dir=self.workdir))
        self.db = run_dir / "tocsin.db"
        self.log = run_dir / "server.log"
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "tocsin",
                "token",
                "create",
                "--db",
                str(self.db),
                "--role",
                "device",
                "--name",
                f"bench-{label}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        lines = [f'synchronous = "{SYNCHRONOUS}"', 'log_level = "WARNING"']
        if webhook:
            lines += ["", "[[webhook]]", f'url = "{self.hook_url}"', "min_priority = 4"]
        self.config = run_dir / "tocsin.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self._launch()
        return Target("tocsin", HOST, self.port, token)

    def _launch(self) -> float:
        assert self.db is not None and self.config is not None and self.log is not None
        self.port = free_port()
        self.proc = self.procs.popen(
            [
                sys.executable,
                "-m",
                "tocsin",
                "serve",
                "--db",
                str(self.db),
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--config",
                str(self.config),
            ],
            self.log,
        )
        return wait_ready(f"http://{HOST}:{self.port}/healthz", self.proc, self.log, timeout=300)

    def restart(self) -> tuple[float, Target]:
        """Stop and start on the same database; seconds until healthy again."""
        assert self.proc is not None
        self.procs.stop(self.proc, self.stop_signal)
        seconds = self._launch()
        return seconds, Target("tocsin", HOST, self.port)

    def healthz(self) -> dict[str, Any]:
        try:
            result: dict[str, Any] = http_json("GET", f"http://{HOST}:{self.port}/healthz")
        except urllib.error.HTTPError as exc:
            result = json.loads(exc.read() or b"{}")
        return result

    def open_incidents(self) -> int | None:
        value = self.healthz().get("open_incidents")
        return value if isinstance(value, int) else None

    def metrics(self) -> dict[str, float]:
        return scrape(HOST, self.port)

    def commit_counters(self) -> CommitCounters | None:
        return commit_counters(self.metrics())

    def snapshot(self) -> dict[str, Any]:
        m = self.metrics()
        commits = m.get("tocsin_commit_batch_events_count", 0.0)
        hooks: Counter[str] = Counter()
        for key, value in m.items():
            if key.startswith("tocsin_webhook_seconds_count{"):
                hooks[key.split('outcome="', 1)[1].split('"', 1)[0]] += int(value)
        rejected = {
            k.split('reason="', 1)[1].split('"', 1)[0]: int(v)
            for k, v in m.items()
            if k.startswith("tocsin_events_rejected_total{")
        }
        return {
            "healthz": self.healthz(),
            "commits": int(commits),
            "events_per_commit": m.get("tocsin_commit_batch_events_sum", 0.0) / commits if commits else 0.0,
            "jobs_per_commit": m.get("tocsin_commit_batch_jobs_sum", 0.0) / commits if commits else 0.0,
            "commit_ms_avg": 1e3 * m.get("tocsin_commit_seconds_sum", 0.0) / commits if commits else 0.0,
            "webhook_outcomes": dict(hooks),
            "rejected": rejected,
        }

    def log_issues(self) -> dict[str, Any]:
        if self.log is None or not self.log.exists():
            return {}
        issues: Counter[str] = Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                if line.strip():
                    issues[f"(non-JSON) {line.strip()[:120]}"] += 1
                continue
            if isinstance(rec, dict) and rec.get("level") in ("warning", "error", "critical"):
                issues[f"{rec['level']}: {rec.get('msg')}"] += 1
        return dict(issues.most_common(10))


class AlertmanagerServer(Server):
    name = "alertmanager"

    def __init__(self, procs: Procs, workdir: Path, hook_url: str, binary: str) -> None:
        super().__init__(procs, workdir, hook_url)
        self.binary = binary

    def start(self, label: str, *, webhook: bool = True) -> Target:
        run_dir = Path(tempfile.mkdtemp(prefix=f"am-{label}-", dir=self.workdir))
        (run_dir / "data").mkdir()
        config = run_dir / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: hook\n"
            "  group_by: ['alertname', 'site']\n"
            "  group_wait: 0s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    webhook_configs:\n"
            f"      - url: {self.hook_url}\n"
            "        send_resolved: false\n"
        )
        self.log = run_dir / "alertmanager.log"
        port = free_port()
        self.proc = self.procs.popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.path={run_dir / 'data'}",
                f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            self.log,
        )
        wait_ready(f"http://{HOST}:{port}/-/ready", self.proc, self.log, timeout=60)
        return Target("am", HOST, port)

    def log_issues(self) -> dict[str, Any]:
        if self.log is None or not self.log.exists():
            return {}
        issues: Counter[str] = Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            if "level=warn" in line or "level=error" in line:
                msg = line.split("msg=", 1)[1][:120] if "msg=" in line else line[:120]
                issues[msg] += 1
        return dict(issues.most_common(10))


def alertmanager_binary() -> tuple[str | None, str]:
    """The Alertmanager binary (installing the Debian package if we can), or why not."""

    def find() -> str | None:
        for name in AM_BINARIES:
            path = shutil.which(name)
            if path:
                return path
        return None

    found = find()
    if found:
        return found, "found"
    if os.geteuid() != 0:
        return None, "prometheus-alertmanager is not installed and we are not root to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "prometheus-alertmanager"]
    for steps in ([install], [["apt-get", "update"], install]):
        for step in steps:
            console.print(f"[bold]running:[/bold] {' '.join(step)}")
            done = subprocess.run(step, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                console.print(f"[yellow]{' '.join(step)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        if find():
            break
    found = find()
    return (found, "installed") if found else (None, "apt-get could not install prometheus-alertmanager")


def binary_version(binary: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    return "unknown"


# -- measurements ---------------------------------------------------------------------------


@contextlib.contextmanager
def running(
    server: Server, receiver: Receiver, label: str, out: dict[str, Any], *, webhook: bool = True
) -> Iterator[Target]:
    """A fresh server for one measurement; its log's complaints land in ``out["log"]``."""
    receiver.take()
    target = server.start(label, webhook=webhook)
    try:
        yield target
        out.setdefault("server", server.snapshot())
    finally:
        out["log"] = server.stop()


def prime(
    server: Server,
    worker: Worker,
    receiver: Receiver,
    target: Target,
    label: str,
    *,
    webhook: bool,
    pool: int = POOL,
) -> dict[str, Any]:
    """Send every site of the repeating pool once, then (with a webhook) wait until each new
    incident's webhook arrived, so the measured run does not pay for the priming backlog."""
    started = time.time()
    out = worker.call("prime", target=target, pool=pool, tag=f"{label}-prime")
    if webhook:
        got = receiver.collect(pool, quiet_s=5.0, max_s=300)
        last = max(got["first"].values(), default=started)
        out.update(webhooks=got["sites"], webhook_drain_s=last - started)
        out["webhooks_per_s"] = got["sites"] / (last - started) if last > started else math.nan
    return out


def measure_closed(
    server: Server,
    worker: Worker,
    receiver: Receiver,
    sizes: Sizes,
    label: str,
    *,
    clients: int,
    batch: int,
    duration: float,
    max_items: int,
) -> dict[str, Any]:
    """Closed-loop throughput: prime the site pool, warm up, then measure ``clients`` x ``batch``."""
    out: dict[str, Any] = {}
    with running(server, receiver, label, out) as target:
        shape = {"clients": clients, "batch": batch, "single": batch == 1}
        out["prime"] = prime(server, worker, receiver, target, label, webhook=True)
        worker.call(
            "closed_loop",
            target=target,
            duration=sizes.warmup_s,
            max_items=10**9,
            seed=1,
            tag=f"{label}-warm",
            **shape,
        )
        out.update(
            timed(
                server,
                worker,
                "closed_loop",
                target=target,
                duration=duration,
                max_items=max_items,
                seed=2,
                tag=label,
                **shape,
            )
        )
    return out


def timed(server: Server, worker: Worker, shape: str, **kwargs: Any) -> dict[str, Any]:
    """Run a load shape, adding the server's CPU use, (tocsin) the incidents it opened and
    its group commits, and how much CPU something other than this benchmark used meanwhile
    (another job on the machine skews every number)."""
    open0, commits0 = server.open_incidents(), server.commit_counters()
    helpers = server.procs.child_pids()
    own0 = sum(cpu_seconds(pid) for pid in helpers)
    busy0, cpu0, began = busy_seconds(), server.cpu(), time.monotonic()  # the host sampler's clock
    out = worker.call(shape, **kwargs)
    ended = time.monotonic()
    out["window"] = (began, ended)  # for the host's speed meanwhile (``host_speeds``)
    elapsed = ended - began
    server_cpu = server.cpu() - cpu0
    own = server_cpu + sum(cpu_seconds(pid) for pid in helpers) - own0
    out["server_cpu_pct"] = 100 * server_cpu / elapsed
    out["other_cpu_pct"] = max(0.0, 100 * (busy_seconds() - busy0 - own) / elapsed)
    open1, commits1 = server.open_incidents(), server.commit_counters()
    means = commit_means(commits0, commits1)
    if means is not None:
        out["commits"], out["events_per_commit"], out["commit_ms_avg"] = means
    if open0 is not None and open1 is not None:
        out["incidents_opened"] = open1 - open0
        out["new_incident_share"] = (open1 - open0) / out["ok_items"] if out["ok_items"] else math.nan
    if out["other_cpu_pct"] > OTHER_CPU_WARN_PCT:
        console.print(
            f"  [yellow]warning: other processes used {out['other_cpu_pct']:.0f}% of a core during this run; "
            "its numbers are skewed[/yellow]"
        )
    return out


def measure_latency(
    server: Server, worker: Worker, receiver: Receiver, sizes: Sizes, label: str, batch: int
) -> dict[str, Any]:
    """Alarms paced at ``latency_rate``/s, each on a new site: POST-to-webhook delay per site."""
    out: dict[str, Any] = {"batch": batch}
    with running(server, receiver, label, out) as target:
        warm = 100.0
        worker.call(
            "paced",
            target=target,
            rate=warm,
            duration=sizes.warmup_s,
            conns=sizes.latency_conns,
            batch=1,
            seed=3,
            tag=f"{label}-warm",
        )
        receiver.collect(int(warm * sizes.warmup_s), quiet_s=2.0, max_s=60)
        res = timed(
            server,
            worker,
            "paced",
            target=target,
            rate=sizes.latency_rate,
            duration=sizes.latency_s,
            conns=sizes.latency_conns,
            batch=batch,
            seed=4,
            tag=label,
        )
        sends: dict[str, float] = res.pop("sends")
        got = receiver.collect(len(sends), quiet_s=5.0, max_s=300)
        first: dict[str, float] = got["first"]
        delays = sorted((first[s] - t) * 1e3 for s, t in sends.items() if s in first)
        times = sorted(sends.values())
        out.update(res)
        out.update(
            accepted=len(sends),
            achieved_rate=(len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else math.nan,
            webhooks=len(delays),
            missing=len(sends) - len(delays),
            repeats=got["repeats"],
            p50_ms=_pct(delays, 0.50),
            p90_ms=_pct(delays, 0.90),
            p99_ms=_pct(delays, 0.99),
            max_ms=delays[-1] if delays else math.nan,
            over_50ms=sum(1 for d in delays if d > 50),
        )
    return out


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def measure_scaling(server: TocsinServer, worker: Worker, receiver: Receiver, sizes: Sizes) -> dict[str, Any]:
    """Same workload on a store with 10 open incidents and on one with ``preload_open``.

    The workload repeats on ``SCALE_POOL`` sites (whose incidents are open in both stores)
    and puts ``SCALE_NEW_SHARE`` of its alarms on new sites, so the small store starts
    with exactly 10 open incidents and the large one with ``preload_open``. Both servers
    run side by side (only one is loaded at a time) and the workload rounds alternate
    between them, so drift in the machine's speed hits both alike; each side's figure is
    the median of its rounds. No webhook here: a hundred thousand notifications still
    being delivered would be the thing measured, not the open incidents.
    """
    big_server = TocsinServer(server.procs, server.workdir, server.hook_url)
    sides = {"10": server, str(sizes.preload_open): big_server}
    runs: dict[str, dict[str, Any]] = {key: {"open_preloaded": int(key), "rounds": []} for key in sides}
    shape = {"clients": 4, "batch": 100, "duration": 3600.0, "pool": SCALE_POOL, "new_share": SCALE_NEW_SHARE}
    with contextlib.ExitStack() as stack:
        targets: dict[str, Target] = {}
        for key, srv in sides.items():
            out = runs[key]
            targets[key] = target = stack.enter_context(running(srv, receiver, f"scale-{key}", out, webhook=False))
            out["preload"] = preload(worker, target, int(key), sizes.preload_batch)
            out["open_before"] = srv.open_incidents()
            out["prime"] = prime(srv, worker, receiver, target, f"scale-{key}", webhook=False)
            worker.call("closed_loop", target=target, max_items=sizes.scale_warmup_events, seed=5, tag="warm", **shape)
        for i in range(sizes.scale_rounds):
            for key, srv in sides.items():
                res = timed(
                    srv,
                    worker,
                    "closed_loop",
                    target=targets[key],
                    max_items=sizes.scale_events,
                    seed=6 + i,
                    tag=f"work{i}",
                    **shape,
                )
                res["us_per_event"] = 1e6 * res["elapsed_s"] / res["ok_items"] if res["ok_items"] else math.nan
                runs[key]["rounds"].append(res)
        for key, srv in sides.items():
            out = runs[key]
            rounds = out["rounds"]
            middle = sorted(rounds, key=lambda r: float(r["us_per_event"]))[len(rounds) // 2]
            out.update({k: v for k, v in middle.items() if k not in out})
            out["us_per_event_rounds"] = [r["us_per_event"] for r in rounds]
            out["open_after"] = srv.open_incidents()
            out["server"] = srv.snapshot()
            out["restart_s"], _ = srv.restart()
            out["open_after_restart"] = srv.open_incidents()
            spread = ", ".join(f"{u:.0f}" for u in out["us_per_event_rounds"])
            console.print(
                f"  {out['open_before']:>7,} open: {out['us_per_event']:.1f} µs/event median of [{spread}]; "
                f"preload {out['preload']['events_per_s']:,.0f} events/s; "
                f"restart with {out['open_after']:,} open {out['restart_s']:.1f}s{_problems(out)}"
            )
    small, large = runs["10"], runs[str(sizes.preload_open)]
    return {"runs": runs, "ratio": large["us_per_event"] / small["us_per_event"]}


def preload(worker: Worker, target: Target, count: int, batch: int) -> dict[str, Any]:
    """``count`` alarms on distinct sites through the API, with a progress bar."""
    step = max(batch, count // 20)
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    columns = (TextColumn("  preload"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("preload", total=count)
        for start in range(0, count, step):
            n = min(step, count - start)
            res = worker.call("preload", target=target, start=start, count=n, batch=batch, clients=4)
            totals["ok_items"] += res["ok_items"]
            totals["retried_503"] += res["retried_503"]
            totals["failed_requests"] += sum(res["non_2xx"].values()) - res["retried_503"]
            totals["errors"] += sum(res["errors"].values())
            progress.update(task, advance=n)
            if not console.is_terminal and (start + n) * 4 // count > start * 4 // count:
                console.print(f"  preload {start + n:,} / {count:,} ({time.perf_counter() - started:.0f}s)")
    elapsed = time.perf_counter() - started
    return {
        **totals,
        "elapsed_s": elapsed,
        "events_per_s": totals["ok_items"] / elapsed if count else math.nan,
    }


def wait_quiet(max_s: float = 90.0) -> None:
    """Wait until the machine is nearly idle (two 2-second windows under the warning level)."""
    started, calm = time.monotonic(), 0
    while calm < 2 and time.monotonic() - started < max_s:
        busy0, t0 = busy_seconds(), time.perf_counter()
        time.sleep(2.0)
        calm = calm + 1 if 100 * (busy_seconds() - busy0) / (time.perf_counter() - t0) < OTHER_CPU_WARN_PCT else 0


def disturbed(result: dict[str, Any]) -> float:
    """The most foreign CPU (% of a core) seen in any timed run of ``result``."""
    seen = [float(result.get("other_cpu_pct", 0.0))]
    for side in (result.get("runs") or {}).values():
        seen += [float(r.get("other_cpu_pct", 0.0)) for r in side.get("rounds", [])]
    return max(seen)


def steady(measure: Callable[[], dict[str, Any]], what: str, retries: int) -> dict[str, Any]:
    """Run ``measure``; if other processes were busy meanwhile, wait for quiet and repeat it
    (up to ``retries`` times), keeping the last result and how often it was repeated."""
    for attempt in range(retries + 1):
        result = measure()
        other = disturbed(result)
        result["disturbed_retries"] = attempt
        if other <= OTHER_CPU_WARN_PCT or attempt == retries:
            return result
        console.print(f"  [yellow]{what}: repeating once the machine is quiet ({other:.0f}% foreign CPU)")
        wait_quiet()
    raise AssertionError("unreachable")


def measure_batched(server: Server, worker: Worker, receiver: Receiver, sizes: Sizes, round_no: int) -> dict[str, Any]:
    """One batched-ingest run (100 events a request, 4 clients) on a fresh server."""
    tag = server.name
    console.print(
        f"[bold]{tag}[/bold]: batched ingest (100/request, 4 clients, {sizes.batched_s:.0f}s), "
        f"round {round_no} of {sizes.batched_rounds}"
    )
    r = steady(
        lambda: measure_closed(
            server,
            worker,
            receiver,
            sizes,
            f"{tag}-batched-{round_no}",
            clients=4,
            batch=100,
            duration=sizes.batched_s,
            max_items=sizes.batched_max_events,
        ),
        "batched ingest",
        sizes.retries,
    )
    p = r["prime"]
    console.print(
        f"  {r['items_per_s']:,.0f} events/s{_problems(r)}\n"
        f"  (priming: {POOL:,} new incidents' webhooks arrived within {p['webhook_drain_s']:.1f}s, "
        f"{p['webhooks_per_s']:,.0f}/s)"
    )
    return r


def batched_rounds(
    peers: list[tuple[Server, dict[str, Any]]], worker: Worker, receiver: Receiver, sizes: Sizes
) -> None:
    """The batched measurement, ``sizes.batched_rounds`` times per peer with the peers taking
    turns; each peer's ``batched`` is its median run, ``batched_rounds`` all its runs."""
    for round_no in range(1, sizes.batched_rounds + 1):
        for server, out in peers:
            out.setdefault("batched_rounds", []).append(measure_batched(server, worker, receiver, sizes, round_no))
    for _, out in peers:
        runs = sorted(out["batched_rounds"], key=lambda r: float(r["items_per_s"]))
        out["batched"] = runs[(len(runs) - 1) // 2]


def round_ratios(t: dict[str, Any], a: dict[str, Any]) -> list[float]:
    """tocsin/Alertmanager batched events/s of each round (runs made back to back)."""
    pairs = zip(t.get("batched_rounds", []), a.get("batched_rounds", []), strict=False)
    return [float(tr["items_per_s"]) / float(ar["items_per_s"]) for tr, ar in pairs if ar["items_per_s"]]


def run_peer(
    server: Server, worker: Worker, receiver: Receiver, sizes: Sizes, out: dict[str, Any], latency_batch: int
) -> None:
    """Single-event requests and webhook latency (batched ingest is :func:`batched_rounds`)."""
    tag = server.name
    console.print(
        f"[bold]{tag}[/bold]: single-event requests ({sizes.single_conns} connections, {sizes.single_s:.0f}s)"
    )
    out["single"] = r = steady(
        lambda: measure_closed(
            server,
            worker,
            receiver,
            sizes,
            f"{tag}-single",
            clients=sizes.single_conns,
            batch=1,
            duration=sizes.single_s,
            max_items=10**9,
        ),
        "single-event requests",
        sizes.retries,
    )
    console.print(f"  {r['requests_per_s']:,.0f} requests/s{_problems(r)}")
    per = f", {latency_batch} per request" if latency_batch > 1 else ""
    rate = f"{sizes.latency_rate:,} events/s{per} for {sizes.latency_s:.0f}s"
    console.print(f"[bold]{tag}[/bold]: webhook latency at {rate}")
    out["latency"] = r = steady(
        lambda: measure_latency(server, worker, receiver, sizes, f"{tag}-latency", latency_batch),
        "webhook latency",
        sizes.retries,
    )
    console.print(
        f"  sent at {r['achieved_rate']:,.0f}/s: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"max {r['max_ms']:.1f} ms, {r['missing']} of {r['accepted']} missing{_problems(r)}"
    )


def _problems(r: dict[str, Any]) -> str:
    bits = []
    if r.get("retried_503"):
        bits.append(f"{r['retried_503']} x 503 retried")
    failed = {k: v for k, v in r.get("non_2xx", {}).items() if k != "503"}
    if failed:
        bits.append(f"non-2xx {failed}")
    if r.get("errors"):
        bits.append(f"errors {r['errors']}")
    if r.get("log"):
        bits.append(f"server log: {r['log']}")
    return f"  [yellow]({'; '.join(bits)})[/yellow]" if bits else ""


# -- report ---------------------------------------------------------------------------------


def _num(value: Any, fmt: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, fmt)


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}x" if isinstance(a, int | float) and isinstance(b, int | float) and b else "—"


def _lat(r: dict[str, Any] | None) -> str:
    if not r:
        return "—"
    return f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.0f}"


def _detail(r: dict[str, Any]) -> list[str]:
    failures = [f"HTTP {k}: {v}" for k, v in r["non_2xx"].items() if k != "503"]
    failures += [f"{k}: {v}" for k, v in r["errors"].items()]
    epc = r.get("events_per_commit")
    share = r.get("new_incident_share")
    return [
        _num(r["ok_items"]),
        _num(r["requests_per_s"]),
        _num(r["retried_503"]),
        ", ".join(failures) or "0",
        f"{r['ack_p50_ms']:.1f} / {r['ack_p99_ms']:.1f}",
        f"{100 * share:.1f}%" if isinstance(share, float) and math.isfinite(share) else "",
        f"{r['server_cpu_pct']:.0f}%",
        f"{r['client_cpu_pct']:.0f}%",
        f"{r['other_cpu_pct']:.0f}%" if "other_cpu_pct" in r else "",
        _num(r.get("host_speed"), ".2f"),
        _num(epc, ".0f") if epc else "",
        _num(_get(r, "server", "healthz", "outbox_in_flight")),
        "; ".join(f"{k} x{v}" for k, v in (r.get("log") or {}).items())[:80] or "-",
    ]


def _per_cpu(r: dict[str, Any] | None) -> float | None:
    """Events per CPU-second the server spent: how much work each event costs, whatever
    number of cores a peer spreads it over (Alertmanager uses both; tocsin's writer, one)."""
    if not r or not r.get("server_cpu_pct"):
        return None
    return 100 * float(r["items_per_s"]) / float(r["server_cpu_pct"])


def _mark(r: dict[str, Any] | None) -> str:
    return " *" if r and disturbed(r) > OTHER_CPU_WARN_PCT else ""


def render(results: dict[str, Any], sizes: Sizes) -> None:
    t, a = results["tocsin"], results["alertmanager"]
    am_name = "Alertmanager" if "batched" in a else f"Alertmanager ({a.get('skipped', 'not run')})"
    table = Table(title="tocsin ingest benchmark", title_justify="left")
    table.add_column("measure")
    table.add_column("tocsin", justify="right")
    table.add_column(am_name, justify="right")
    table.add_column("tocsin/AM", justify="right")

    def row(label: str, key: str, field: str, *path: str) -> None:
        tv, av = _get(t, key, *path, field), _get(a, key, *path, field)
        tr, ar = t.get(key), a.get(key)
        table.add_row(label, _num(tv) + _mark(tr), _num(av) + _mark(ar), _ratio(tv, av))

    rounds = len(t.get("batched_rounds", []))
    median = f", median of {rounds} runs" if rounds > 1 else ""
    tv, av = _get(t, "batched", "items_per_s"), _get(a, "batched", "items_per_s")
    ratios = sorted(round_ratios(t, a))
    ratio = f"{ratios[(len(ratios) - 1) // 2]:.2f}x" if ratios else "—"
    table.add_row(
        f"batched ingest: events/s (100/request, 4 clients{median})",
        _num(tv) + _mark(t.get("batched")),
        _num(av) + _mark(a.get("batched")),
        ratio,
    )
    if rounds > 1:
        table.add_row(
            "  each run, in turn (ratio: median of the rounds' ratios)",
            " / ".join(_num(r["items_per_s"]) for r in t["batched_rounds"]),
            " / ".join(_num(r["items_per_s"]) for r in a.get("batched_rounds", [])),
            " / ".join(f"{x:.2f}" for x in round_ratios(t, a)),
        )
        table.add_row(
            "  host speed during each run (1.00: the fastest seen; bench/_host.py)",
            " / ".join(_num(r.get("host_speed"), ".2f") for r in t["batched_rounds"]),
            " / ".join(_num(r.get("host_speed"), ".2f") for r in a.get("batched_rounds", [])),
            "",
        )
    te, ae = _per_cpu(t.get("batched")), _per_cpu(a.get("batched"))
    table.add_row("  the same per second of server CPU (100% of one core for 1 s)", _num(te), _num(ae), _ratio(te, ae))
    row(f"single-event requests/s ({sizes.single_conns} connections)", "single", "requests_per_s")
    row(
        f"webhook delivery: backlog of {POOL:,} new incidents drained (webhooks/s)",
        "batched",
        "webhooks_per_s",
        "prime",
    )
    tl, al = t.get("latency"), a.get("latency")
    per = f", {tl['batch']}/request" if tl and tl.get("batch", 1) > 1 else ", 1/request"
    table.add_row(
        f"webhook latency, {sizes.latency_rate:,} events/s offered{per}: p50/p99/max ms (target p99 < 50)",
        _lat(tl) + _mark(tl),
        f"{_lat(al)}{_mark(al)} (info)" if al else "—",
        "",
    )
    table.add_row(
        "  events/s achieved; webhooks missing / accepted",
        f"{tl['achieved_rate']:,.0f}; {tl['missing']} / {tl['accepted']}" if tl else "—",
        f"{al['achieved_rate']:,.0f}; {al['missing']} / {al['accepted']}" if al else "—",
        "",
    )
    sc = t.get("scaling")
    if sc:
        big = sizes.preload_open
        small_r, big_r = sc["runs"]["10"], sc["runs"][str(big)]
        workload = f"{sizes.scale_events:,} events x {sizes.scale_rounds}, 4 x 100/request, 2% new"
        table.add_section()
        table.add_row(f"µs/event, 10 open incidents ({workload})", _num(small_r["us_per_event"], ".1f"), "", "")
        table.add_row(f"µs/event, {big:,} open incidents (same workload)", _num(big_r["us_per_event"], ".1f"), "", "")
        table.add_row(f"ratio {big:,} / 10 open (target ≤ 1.3)", f"{sc['ratio']:.2f}{_mark(sc)}", "", "")
        table.add_row(f"restart with {big:,} open: seconds to healthy", _num(big_r["restart_s"], ".1f"), "", "")
    console.print(table)

    detail = Table(title="details per run", title_justify="left")
    columns = (
        "run",
        "ok items",
        "req/s",
        "503 retried",
        "other failures",
        "ack p50/p99 ms",
        "new inc.",
        "server CPU",
        "client CPU",
        "other CPU",
        "host",
        "events/commit",
        "outbox left",
        "server log",
    )
    for col in columns:
        left = col in ("run", "other failures", "server log")
        detail.add_column(col, justify="left" if left else "right", no_wrap=col == "run")
    for peer, res in (("tocsin", t), ("AM", a)):
        runs = [(k, res.get(k)) for k in ("batched", "single", "latency")]
        if peer == "tocsin" and sc:
            runs += [(f"scale {int(k):,} open", v) for k, v in sc["runs"].items()]
        for name, r in runs:
            if r:
                detail.add_row(f"{peer} {name}", *_detail(r))
    console.print(detail)
    m = results["machine"]
    console.print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; "
        f"tocsin synchronous={results['tocsin_synchronous']} (fsync per group commit); "
        f"Alertmanager: {results.get('alertmanager_version', 'n/a')}"
    )
    console.print(f"tocsin under test: {results['tocsin_source']}")
    console.print(
        f"* measured while other processes used more than {OTHER_CPU_WARN_PCT:.0f}% of a core (see 'other CPU'): skewed"
    )


def tocsin_source() -> str:
    """Which tocsin the servers run (the child inherits PYTHONPATH), and its git state."""
    found = subprocess.run(
        [sys.executable, "-c", "import tocsin; print(tocsin.__file__, tocsin.__version__)"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return f"cannot import tocsin: {found.stderr.strip()[-300:]}"
    path, _, version = found.stdout.strip().rpartition(" ")
    root = Path(path).resolve().parents[2]
    git = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    state = git.stdout.strip() if git.returncode == 0 else "not a git checkout"
    return f"tocsin {version} from {root} ({state})"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def run(args: argparse.Namespace, procs: Procs, workdir: Path) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_at_start": os.getloadavg(),
        "quick": args.quick,
        "sizes": asdict(sizes),
        "machine": machine(),
        "tocsin_synchronous": SYNCHRONOUS,
        "tocsin_source": tocsin_source(),
        "tocsin": {},
        "alertmanager": {},
    }
    am_binary, why = (None, "--no-alertmanager") if args.no_alertmanager else alertmanager_binary()
    if am_binary is None:
        console.print(f"[yellow]Alertmanager peer skipped: {why}; tocsin's numbers are still measured")
        results["alertmanager"]["skipped"] = why
    else:
        results["alertmanager_version"] = binary_version(am_binary)
    receiver = Receiver(procs)
    worker = Worker(procs)
    wait_quiet(max_s=60 if sizes.retries else 10)
    host = HostSpeed()
    host.start()
    try:
        tocsin = TocsinServer(procs, workdir, receiver.url)
        peers: list[tuple[Server, dict[str, Any]]] = [(tocsin, results["tocsin"])]
        if am_binary is not None:
            peers.append((AlertmanagerServer(procs, workdir, receiver.url, am_binary), results["alertmanager"]))
        batched_rounds(peers, worker, receiver, sizes)
        run_peer(tocsin, worker, receiver, sizes, results["tocsin"], args.latency_batch)
        console.print(f"[bold]tocsin[/bold]: open-incident scaling (10 vs {sizes.preload_open:,} open)")
        results["tocsin"]["scaling"] = steady(
            lambda: measure_scaling(tocsin, worker, receiver, sizes), "open-incident scaling", sizes.retries
        )
        for server, out in peers[1:]:
            run_peer(server, worker, receiver, sizes, out, args.latency_batch)
    finally:
        worker.close()
        host.stop()
    host_speeds(results, host)
    return results


def host_speeds(found: Any, host: HostSpeed) -> None:
    """Give every timed run in ``found`` its ``host_speed``: how fast the host let Python run meanwhile."""
    if isinstance(found, dict):
        if "window" in found:
            found["host_speed"] = host.during(*found["window"])
        for value in found.values():
            host_speeds(value, host)
    elif isinstance(found, list):
        for value in found:
            host_speeds(value, host)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run (< 2 min)")
    parser.add_argument(
        "--latency-batch",
        type=int,
        default=1,
        metavar="N",
        help="events per POST in the webhook-latency run (default 1: one request per alarm)",
    )
    parser.add_argument("--no-alertmanager", action="store_true", help="measure tocsin only")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, metavar="FILE", help=f"JSON results file (default {RESULTS})"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Procs()
    try:
        with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
            try:
                results = run(args, procs, Path(tmp))
            finally:
                procs.stop_all()
    except KeyboardInterrupt:
        console.print("[red]interrupted; everything started was stopped")
        return 130
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_jsonable(results), indent=2) + "\n")
    render(results, QUICK if args.quick else FULL)
    console.print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
