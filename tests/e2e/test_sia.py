"""A panel over real TCP and UDP to a real server: ACK only once stored, retransmissions once.

By default an ACK means "in the receiver's journal"; the engine commits it milliseconds
later, so what a panel sent is looked for with ``eventually``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.server import ServerProcess, free_port
from tocsin.ingest.sia_codec import format_timestamp, parse_frame
from tocsin.ingest.sia_framing import encode_frame
from tocsin.store.schema import events
from tocsin.store.sqlite import open_database

pytestmark = pytest.mark.e2e

T = TypeVar("T")


def _frame(seq: int, data: str, account: str = "1234") -> bytes:
    stamp = format_timestamp(datetime.now(tz=UTC))
    return encode_frame(f'"SIA-DCS"{seq:04d}R0L0#{account}[#{account}|{data}]_{stamp}'.encode())


def _exchange_tcp(port: int, frame: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(frame[:7])
        time.sleep(0.05)
        conn.sendall(frame[7:])  # split across two reads, as real panels do
        reply = b""
        while not reply.endswith(b"\r"):
            chunk = conn.recv(1024)
            if not chunk:
                break
            reply += chunk
    return reply


def eventually(check: Callable[[], T], ok: Callable[[T], bool], timeout: float = 10.0) -> T:
    """``check()`` once ``ok`` of it holds (polled), or its last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    value = check()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = check()
    return value


def test_panel_alarm_restore_and_retransmission(tmp_path: Path) -> None:
    tcp, udp = free_port(), free_port()
    srv = ServerProcess(
        tmp_path,
        f'[sia]\ntcp = "127.0.0.1:{tcp}"\nudp = "127.0.0.1:{udp}"\n'
        '[[sia.account]]\nid = "1234"\nsite = "warehouse-9"\n',
    )
    srv.token("operator")
    srv.start()
    try:
        alarm = _frame(7, "Nri1/BA05")
        reply = parse_frame(_exchange_tcp(tcp, alarm))
        assert (reply.token, reply.sequence, reply.account) == ("ACK", "0007", "1234")
        again = parse_frame(_exchange_tcp(tcp, alarm))  # the panel missed the ACK and resends
        assert again.token == "ACK"
        with srv.client("operator") as op:
            items = eventually(lambda: op.get("/api/v1/incidents", params={"state": "open"}).json()["items"], bool)
            assert [(i["alarm_type"], i["site"], i["event_count"]) for i in items] == [
                ("intrusion.burglary", "warehouse-9", 1)
            ]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(_frame(8, "Nri1/BR05"), ("127.0.0.1", udp))
            assert parse_frame(s.recvfrom(2048)[0]).token == "ACK"
        with srv.client("operator") as op:
            inc = eventually(
                lambda: op.get(f"/api/v1/incidents/{items[0]['id']}").json(), lambda i: i["event_count"] == 2
            )
            assert inc["condition"] == "cleared" and inc["event_count"] == 2
        bad = bytearray(_frame(9, "Nri1/BA06"))
        bad[1:5] = b"0000"  # wrong CRC
        assert parse_frame(_exchange_tcp(tcp, bytes(bad))).token == "NAK"
    finally:
        srv.stop()


def test_opening_and_closing_reports_are_one_low_priority_record(tmp_path: Path) -> None:
    tcp = free_port()
    srv = ServerProcess(tmp_path, f'[sia]\ntcp = "127.0.0.1:{tcp}"\n[[sia.account]]\nid = "1234"\nsite = "shop-3"\n')
    srv.token("operator")
    srv.start()
    try:
        for seq, data in [(1, "Nri1/OP007"), (2, "Nri1/CL007")]:
            assert parse_frame(_exchange_tcp(tcp, _frame(seq, data))).token == "ACK"
        with srv.client("operator") as op:
            items = eventually(
                lambda: op.get("/api/v1/incidents", params={"state": "open"}).json()["items"],
                lambda found: bool(found) and found[0]["event_count"] == 2,
            )
            assert [(i["alarm_type"], i["priority"], i["condition"], i["event_count"]) for i in items] == [
                ("security.open_close", 4, "active", 2)
            ]
    finally:
        srv.stop()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_receiver_process_replaced_after_a_crash_and_gone_with_its_server(tmp_path: Path) -> None:
    """The receiver runs in a child of the server: a crash of it is reported by /healthz and
    repaired on the same port; a crash of the server takes it along (no orphan ACKing panels)."""
    tcp = free_port()
    srv = ServerProcess(tmp_path, f'[sia]\ntcp = "127.0.0.1:{tcp}"\n[[sia.account]]\nid = "1234"\n')
    srv.start()
    try:
        assert srv.proc is not None
        health = httpx.get(f"{srv.url}/healthz").json()
        assert (health["status"], health["sia"]) == ("ok", "ok")
        (child,) = _children(srv.proc.pid)
        os.kill(child, signal.SIGKILL)
        seen: set[tuple[int, str]] = set()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            answer = httpx.get(f"{srv.url}/healthz")
            seen.add((answer.status_code, answer.json().get("sia", "")))
            if (503, "receiver process down; a new one is starting") in seen and answer.status_code == 200:
                break
            time.sleep(0.02)
        assert (503, "receiver process down; a new one is starting") in seen
        assert answer.status_code == 200
        assert parse_frame(_exchange_tcp(tcp, _frame(1, "Nri1/BA05"))).token == "ACK"
        (replacement,) = _children(srv.proc.pid)
        assert replacement != child
        srv.kill()
        deadline = time.monotonic() + 10
        while _alive(replacement) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(replacement)
    finally:
        srv.stop()


def test_kill_9_loses_no_alarm_acked_from_the_journal(tmp_path: Path) -> None:
    """An ACK means "in the receiver's journal" (by default next to the database): panels
    keep sending while the server is killed with -9; after the restart every ACKed alarm is
    stored, once."""
    tcp = free_port()
    accounts = [f"{1000 + i}" for i in range(4)]
    srv = ServerProcess(
        tmp_path,
        f'[sia]\ntcp = "127.0.0.1:{tcp}"\n'
        + "".join(f'[[sia.account]]\nid = "{a}"\nsite = "site-{a}"\n' for a in accounts),
    )
    srv.start()
    acked: set[tuple[str, str]] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def panel(account: str) -> None:
        try:
            with socket.create_connection(("127.0.0.1", tcp), timeout=5) as conn:
                for seq in range(1, 10_000):
                    if stop.is_set():
                        return
                    conn.sendall(_frame(seq, f"Nri1/BA{seq % 999 + 1:03d}", account))
                    reply = b""
                    while not reply.endswith(b"\r"):
                        chunk = conn.recv(1024)
                        if not chunk:
                            return  # the server died under us: this frame was never ACKed
                        reply += chunk
                    if parse_frame(reply).token == "ACK":
                        with lock:
                            acked.add((f"sia:{account}", f"{seq:04d}"))
        except OSError:
            return

    srv.kill_under_load(panel, accounts, stop)
    assert len(acked) > 100, "the panels never got going"

    def stored() -> list[tuple[str, str]]:
        db = open_database(srv.db)
        try:
            with db.read_engine.connect() as conn:
                rows = conn.execute(select(events.c.source, events.c.attributes)).all()
        finally:
            db.close()
        return [(source, json.loads(attributes)["sequence"]) for source, attributes in rows]

    srv.start()  # its receiver process hands what the journal holds to the engine
    try:
        deadline = time.monotonic() + 20
        while not acked <= set(stored()) and time.monotonic() < deadline:
            time.sleep(0.2)
        found = stored()
        assert acked <= set(found), f"{len(acked - set(found))} ACKed alarms lost"
        assert len(found) == len(set(found)), "an alarm was stored twice"
        deadline = time.monotonic() + 10  # the receiver reports its journal's backlog once a second
        while "tocsin_sia_journal_pending_events 0.0" not in httpx.get(f"{srv.url}/metrics").text:
            assert time.monotonic() < deadline, "the journal's backlog never drained"
            time.sleep(0.2)
    finally:
        srv.stop()
    assert not list((tmp_path / "tocsin.db.sia-journal").glob("*.journal"))  # all confirmed, and a clean stop
