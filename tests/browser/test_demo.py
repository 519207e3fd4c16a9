"""`make demo` opens onto the console: `tocsin demo` prints accounts that log in to a queue already filling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Session
from tests.e2e.server import free_port


def wait_healthy(base: str, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """The demo prints its accounts first, then starts serving."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"the demo server did not come up (exit code {proc.poll()})")


def test_demo_prints_accounts_that_open_a_live_queue(session: Session, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "tocsin", "demo", "--no-open", "--port", str(port), "--db", str(tmp_path / "demo.db")]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "demo.out"
    with out.open("w") as sink:  # a file, not a pipe: nobody must have to keep reading the demo's output
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        printed = ""
        deadline = time.monotonic() + 30
        while "demo-auditor" not in printed and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            printed = out.read_text()
        accounts = dict(re.findall(r"user (demo-\w+)\s+password (\S+)", printed))
        assert set(accounts) == {"demo-operator", "demo-supervisor", "demo-admin", "demo-auditor"}, printed
        assert f"http://127.0.0.1:{port}/" in printed
        session.base = f"http://127.0.0.1:{port}"
        wait_healthy(session.base, proc)
        page = session.login("demo-operator", accounts["demo-operator"])
        page.wait_for_selector("#app[data-ready='true']")
        expect(page.locator("#queue tr[data-incident-id]").first).to_be_visible(timeout=15000)
    finally:
        proc.terminate()
        proc.wait(20)
