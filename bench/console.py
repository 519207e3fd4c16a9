"""Is the operator console's queue responsive with 5,000 open incidents and 200 events/s arriving?

Starts a tocsin server on a throwaway database, fills it with open incidents (distinct
sites, so none correlate), then drives a steady feed (by default 200 events/s as single
requests, most of them repeats that update open incidents, some opening new ones) while
Debian's Chromium, driven by Playwright, works the queue page as an operator would. It
measures, in the browser:

- first load: from navigation to the queue rendered with every open incident;
- live latency: from the POST of a new priority-1 alarm to its entry in the page's P1 banner
  (the queue draws only the rows on screen, so the banner is where a new P1 always shows);
- input latency: from a ``j`` key press to the next painted frame with the selection moved;
- frames: rendered frames per second and the longest gap between frames under load;
- long tasks (> 50 ms on the main thread) and the page's JS heap.

Run: ``.venv/bin/python bench/console.py`` (``--open 5000 --rate 200 --seconds 30``).
Needs /usr/bin/chromium (``make sysdeps`` installs it). Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
TYPES = ("fire.smoke", "intrusion.burglary", "medical.emergency", "traffic.collision", "tech.low_battery")
NOT_P1 = ("intrusion.burglary", "traffic.collision", "utility.water_leak", "tech.low_battery")
"""New incidents the feed opens: never priority 1, so each probe P1 is the newest in the P1 banner."""
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event(site: int, kind: str | None = None) -> dict[str, Any]:
    return {
        "type": kind or TYPES[site % len(TYPES)],
        "method": "equipment",
        "source": f"dev-{site}",
        "site": f"site-{site:05d}",
        "location": {"lat": 52.3 + (site % 100) * 0.004, "lon": 13.1 + (site // 100 % 100) * 0.006},
    }


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """A server plus an operator account and a device token; returns (process, url, device token)."""
    db = workdir / "bench.db"
    tocsin = [sys.executable, "-m", "tocsin"]
    subprocess.run(
        [
            *tocsin,
            "user",
            "create",
            "--db",
            str(db),
            "--username",
            "bench.op",
            "--role",
            "operator",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n".encode(),
        check=True,
        capture_output=True,
    )
    made = subprocess.run(
        [*tocsin, "token", "create", "--db", str(db), "--role", "device", "--name", "bench"],
        check=True,
        capture_output=True,
    )
    token = made.stdout.decode().strip()
    port = free_port()
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen([*tocsin, "serve", "--db", str(db), "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return proc, url, token
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"server did not start; see {workdir / 'server.log'}")


def fill(url: str, token: str, count: int) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for first in range(0, count, 500):
            batch = [event(site) for site in range(first, min(count, first + 500))]
            r = client.post("/api/v1/events", json=batch)
            r.raise_for_status()
            print(f"\r  filling: {first + len(batch):,}/{count:,} open incidents", end="", flush=True)
    print()
    return time.perf_counter() - started


def feed_main(url: str, token: str, rate: float, existing: int, stop_at: float, result: Any) -> None:
    """The arriving load, in a process of its own: ``rate`` single-event requests per second."""

    async def run() -> None:
        sent = failed = 0
        fresh = itertools.count(existing + 100_000)
        headers = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
            tasks: set[asyncio.Task[None]] = set()

            async def one(body: dict[str, Any]) -> None:
                nonlocal sent, failed
                try:
                    r = await client.post("/api/v1/events", json=body)
                    sent += r.status_code == 202
                    failed += r.status_code != 202
                except httpx.HTTPError:
                    failed += 1

            start = time.perf_counter()
            end = start + (stop_at - time.time())
            for n in itertools.count():
                due = start + n / rate
                if due > end:
                    break
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if random.random() < 0.1:
                    body = event(next(fresh), random.choice(NOT_P1))
                else:
                    body = event(random.randrange(existing))  # 90 %: a repeat that updates an open incident
                task = asyncio.create_task(one(body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
        result.put((sent, failed))

    asyncio.run(run())


PAGE_PROBES = """
() => {
  window.__bench = { frames: 0, maxGap: 0, last: performance.now(), longTasks: 0, longTaskMs: 0, keys: [] };
  const b = window.__bench;
  const tick = (t) => {
    b.frames++; b.maxGap = Math.max(b.maxGap, t - b.last); b.last = t; requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { b.longTasks++; b.longTaskMs += e.duration; }
  }).observe({ type: "longtask", buffered: false });
  document.addEventListener("keydown", (e) => {
    const t0 = performance.now();
    const before = document.querySelector("#queue tr[aria-selected='true']")?.dataset.incidentId;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const after = document.querySelector("#queue tr[aria-selected='true']")?.dataset.incidentId;
      b.keys.push({ ms: performance.now() - t0, moved: before !== after });
    }));
  }, true);
}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def drive_browser(url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.goto(f"{url}/console/login")
        page.fill("#username", "bench.op")
        page.fill("#password", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_url(f"{url}/console/")
        started = time.perf_counter()
        page.reload()
        page.wait_for_selector("#app[data-ready='true']", timeout=120_000)
        out["load_s"] = time.perf_counter() - started
        out["shown"] = page.locator("#count-total").inner_text()
        page.evaluate(PAGE_PROBES)

        # spawn, not fork: a forked child would inherit Playwright's running event loop
        ctx = multiprocessing.get_context("spawn")
        result = ctx.Queue()
        stop_at = time.time() + args.seconds
        feeder = ctx.Process(target=feed_main, args=(url, token, args.rate, args.open, stop_at, result), daemon=True)
        feeder.start()
        time.sleep(2)  # let the feed reach its pace
        latencies: list[float] = []
        site = itertools.count(900_000)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            while time.time() < stop_at - 3:
                t0 = time.perf_counter()
                r = client.post("/api/v1/events", json=event(next(site), "fire.smoke"))
                incident = r.json()["events"][0]["incident_id"]
                # the queue renders only the rows on screen; every new P1 is listed at the top of the banner
                page.wait_for_selector(f"#p1-banner li[data-incident-id='{incident}']", timeout=10_000)
                latencies.append((time.perf_counter() - t0) * 1000)
                for _ in range(5):
                    page.keyboard.press("j")
                    page.wait_for_timeout(60)
                page.wait_for_timeout(200)
        probe = page.evaluate("window.__bench")
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        sent, failed = result.get(timeout=args.seconds + 60)
        feeder.join(30)
        browser.close()
    elapsed = args.seconds - 2
    keys = [k["ms"] for k in probe["keys"]]
    out.update(
        live_p50=pct(latencies, 0.5),
        live_p95=pct(latencies, 0.95),
        live_n=len(latencies),
        key_p50=pct(keys, 0.5),
        key_p99=pct(keys, 0.99),
        key_n=len(keys),
        moved=sum(k["moved"] for k in probe["keys"]),
        fps=probe["frames"] / elapsed,
        max_gap=probe["maxGap"],
        long_tasks=probe["longTasks"],
        long_task_ms=probe["longTaskMs"],
        heap_mb=heap / 1e6,
        sent=sent,
        failed=failed,
    )
    return out


def render(r: dict[str, Any], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Console queue: {args.open:,} open incidents, {args.rate:g} events/s for {args.seconds:g} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("aim", justify="right")
    rows = [
        ("first load to rendered queue", f"{r['load_s']:.2f} s ({r['shown']})", "< 3 s"),
        ("feed delivered (202) / failed", f"{r['sent']:,} / {r['failed']:,}", f"{args.rate * args.seconds:,.0f}"),
        ("new P1 alarm: POST → shown on page, p50", f"{r['live_p50']:.0f} ms (n={r['live_n']})", "< 1,000 ms"),
        ("new P1 alarm: POST → shown on page, p95", f"{r['live_p95']:.0f} ms", "< 1,000 ms"),
        ("key j → next frame, p50", f"{r['key_p50']:.0f} ms (n={r['key_n']}, moved {r['moved']})", "< 100 ms"),
        ("key j → next frame, p99", f"{r['key_p99']:.0f} ms", "< 100 ms"),
        ("frames per second under load", f"{r['fps']:.0f}", "≥ 30"),
        ("longest gap between frames", f"{r['max_gap']:.0f} ms", "< 200 ms"),
        ("long tasks (> 50 ms)", f"{r['long_tasks']} ({r['long_task_ms']:.0f} ms in all)", "few"),
        ("JS heap", f"{r['heap_mb']:.0f} MB", ""),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=5000, help="open incidents before the feed starts")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second during the measurement")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the feed runs")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make sysdeps` (Debian's chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tocsin-console-bench-") as tmp:
        proc, url, token = start_server(Path(tmp))
        try:
            print(f"filled {args.open:,} open incidents in {fill(url, token, args.open):.1f} s")
            results = drive_browser(url, token, args)
        finally:
            proc.terminate()
            proc.wait(30)
    render(results, args)
    print(f"machine: {os.cpu_count()} cores; server, feed and browser share it.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
