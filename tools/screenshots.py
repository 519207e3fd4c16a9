"""Take the console screenshots in ``docs/`` from a live server fed by the simulator.

Run: ``.venv/bin/python tools/screenshots.py`` (needs /usr/bin/chromium). It starts a
throwaway server, feeds it the simulated city for a while, works a few incidents as an
operator would (so the dashboards have handling times), then photographs each page at
1280x720 and the queue on a phone.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page

DOCS = Path(__file__).resolve().parents[1] / "docs"
PASSWORD = "screenshot password"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def tocsin(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *args], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.e2e.server import free_port

    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tocsin-shots-") as tmp:
        db = str(Path(tmp) / "shots.db")
        for user, role in (("m.keller", "operator"), ("s.ahmed", "supervisor"), ("admin", "admin")):
            tocsin("user", "create", "--db", db, "--username", user, "--role", role, "--password-stdin", stdin=PASSWORD)
        device = tocsin("token", "create", "--db", db, "--role", "device", "--name", "city-feed")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--db", db, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        feed = None
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            feed = subprocess.Popen(
                [sys.executable, "-m", "tocsin", "simulate", "--url", url, "--token", device, "--rate", "25"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(20)
            work(url)
            shoot(url)
        finally:
            if feed is not None:
                feed.terminate()
            server.terminate()
            server.wait(20)
    print(f"screenshots written to {DOCS}")
    return 0


def work(url: str) -> None:
    """Acknowledge, resolve and close some incidents, so handling figures exist."""
    with httpx.Client(base_url=url) as op:
        op.post("/api/v1/auth/login", json={"username": "m.keller", "password": PASSWORD})
        headers = {"X-Requested-With": "tocsin"}
        items = op.get("/api/v1/incidents", params={"state": "open", "order": "queue", "limit": 40}).json()["items"]
        for n, inc in enumerate(items[5:35]):
            act = f"/api/v1/incidents/{inc['id']}/actions"
            op.post(act, json={"action": "acknowledge"}, headers=headers)
            op.post(act, json={"action": "sop", "step": 0}, headers=headers)
            if n % 2:
                op.post(act, json={"action": "resolve", "text": "checked on site"}, headers=headers)
            if n % 4 == 1:
                op.post(act, json={"action": "close", "disposition": "false_alarm"}, headers=headers)


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.goto(f"{url}/console/login")
        page.screenshot(path=str(DOCS / "demo-first-screen.png"))
        login(page, url, "m.keller")
        page.wait_for_selector("#app[data-ready='true']")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(DOCS / "queue.png"))
        with httpx.Client(base_url=url) as op:
            op.post("/api/v1/auth/login", json={"username": "m.keller", "password": PASSWORD})
            acked = op.get("/api/v1/incidents", params={"state": "acknowledged", "limit": 1}).json()["items"]
        target = acked[0]["id"] if acked else 1
        page.goto(f"{url}/console/incidents/{target}")
        page.wait_for_selector("#app[data-ready='true']")
        page.wait_for_timeout(800)
        page.screenshot(path=str(DOCS / "incident.png"))
        page.goto(f"{url}/console/map")
        page.wait_for_selector("#app[data-ready='true']")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(DOCS / "map.png"))
        supervisor = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        login(supervisor, url, "s.ahmed", then="/console/dashboard")
        supervisor.wait_for_selector("#app[data-ready='true']")
        supervisor.wait_for_timeout(1500)
        supervisor.screenshot(path=str(DOCS / "dashboard.png"))
        admin = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        login(admin, url, "admin", then="/console/admin/alarm-types")
        admin.wait_for_selector("#app[data-ready='true']")
        admin.screenshot(path=str(DOCS / "admin-alarm-types.png"))
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
        login(phone, url, "m.keller")
        phone.wait_for_selector("#app[data-ready='true']")
        phone.wait_for_timeout(1000)
        phone.screenshot(path=str(DOCS / "queue-phone.png"))
        browser.close()


def login(page: Page, url: str, user: str, then: str = "/console/") -> None:
    page.goto(f"{url}/console/login?next={then}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(f"{url}{then}")


if __name__ == "__main__":
    raise SystemExit(main())
