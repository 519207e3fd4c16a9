"""A panel over real TCP and UDP to a real server: ACK only once stored, retransmissions once."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess, free_port
from tocsin.ingest.sia_codec import format_timestamp, parse_frame
from tocsin.ingest.sia_framing import encode_frame

pytestmark = pytest.mark.e2e


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
            items = op.get("/api/v1/incidents", params={"state": "open"}).json()["items"]
            assert [(i["alarm_type"], i["site"], i["event_count"]) for i in items] == [
                ("intrusion.burglary", "warehouse-9", 1)
            ]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(_frame(8, "Nri1/BR05"), ("127.0.0.1", udp))
            assert parse_frame(s.recvfrom(2048)[0]).token == "ACK"
        with srv.client("operator") as op:
            inc = op.get(f"/api/v1/incidents/{items[0]['id']}").json()
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
            items = op.get("/api/v1/incidents", params={"state": "open"}).json()["items"]
            assert [(i["alarm_type"], i["priority"], i["condition"], i["event_count"]) for i in items] == [
                ("security.open_close", 4, "active", 2)
            ]
    finally:
        srv.stop()
