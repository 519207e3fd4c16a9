"""A real tocsin server process on a free loopback port, and a webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tocsin.auth.tokens import create_token
from tocsin.store.sqlite import open_database

__all__ = ("Receiver", "ServerProcess", "free_port")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m tocsin serve`` with its own database and config under ``root``."""

    def __init__(self, root: Path, config: str = "") -> None:
        self.root = root
        self.db = root / "tocsin.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "tocsin.toml"
        self.config.write_text(f'log_level = "INFO"\n{config}\n', encoding="utf-8")
        self.log = root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self._tokens:
            database = open_database(self.db)
            try:
                with database.write_engine.begin() as conn:
                    self._tokens[role] = create_token(conn, role=role, name=f"test-{role}")
            finally:
                database.close()
        return self._tokens[role]

    def client(self, role: str, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token(role)}"}, **kw)

    def start(self, timeout: float = 20.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            "--db",
            str(self.db),
            "--port",
            str(self.port),
            "--config",
            str(self.config),
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what was committed must survive anyway."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def kill_under_load(
        self, worker: Callable[[T], None], args: Sequence[T], stop: threading.Event, *, after_s: float = 1.5
    ) -> None:
        """Run ``worker(arg)`` on a thread per arg, :meth:`kill` the server after ``after_s``
        seconds, then set ``stop`` and join them (a worker returns once ``stop`` is set or the
        server is gone)."""
        threads = [threading.Thread(target=worker, args=(arg,)) for arg in args]
        for t in threads:
            t.start()
        time.sleep(after_s)
        self.kill()
        stop.set()
        for t in threads:
            t.join(10)


class Receiver:
    """A webhook endpoint that records JSON bodies; can be told to fail with 500."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures_left = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with outer.lock:
                    if outer.failures_left > 0:
                        outer.failures_left -= 1
                        status = 500
                    else:
                        outer.received.append(json.loads(body))
                        outer.arrived.notify_all()
                        status = 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
