"""Outbox delivery through the real writer: outcomes recorded, each delivery audited as a disclosure."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from tests.unit.notify.test_webhook import Receiver, ok
from tocsin.audit.log import AUDIT_SINK, AuditRecord, read_records
from tocsin.config import WebhookConfig
from tocsin.engine.state import OutboxItem
from tocsin.notify.outbox import OutboxDeliverer
from tocsin.store import repo
from tocsin.store.schema import outbox
from tocsin.store.sqlite import Database
from tocsin.store.writer import Tx


def test_delivery_is_recorded_and_audited(db: Database) -> None:
    writer = db.writer(max_pending=100, max_group_weight=100)
    rows = [
        {
            "id": i,
            "channel": "hook",
            "payload": "{}",
            "created_us": 0,
            "next_attempt_us": 0,
            "attempts": 0,
            "state": "pending",
        }  # fmt: skip
        for i in (1, 2)
    ]
    writer.run_blocking(lambda tx: repo.insert_outbox(tx.conn, rows))

    def audit(tx: Tx, records: list[AuditRecord], at_us: int) -> None:
        tx.defer(AUDIT_SINK, (records, at_us))

    async def main() -> None:
        async with Receiver(ok()) as rx:
            hook = WebhookConfig(url=rx.url(), name="hook")
            deliverer = OutboxDeliverer(db, writer, [hook], audit=audit)
            writer.start()
            try:
                await deliverer.start()  # resumes both pending rows from the table
                deliverer.enqueue([OutboxItem(3, "hook", b"{}", 0, 42)])
                for _ in range(200):
                    if len(rx.requests) >= 3:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.1)
            finally:
                await deliverer.stop()
                writer.stop()

    asyncio.run(main())
    with db.read_engine.connect() as conn:
        states = dict(conn.execute(select(outbox.c.id, outbox.c.state)).all())
        records = [json.loads(r) for r in read_records(conn)]
    assert states == {1: "delivered", 2: "delivered"}  # item 3 was never a row: only memory
    disclosed = [r for r in records if r["action"] == "webhook.deliver"]
    assert disclosed and all(r["operation"] == "disclosure" and r["recipient"] == "hook" for r in disclosed)
    assert sorted(x for r in disclosed for x in _flat(r["objects"]["outbox"])) == [1, 2, 3]
    assert 42 in [x for r in disclosed for x in _flat(r["objects"]["incidents"])]


def _flat(ranges: list[object]) -> list[int]:
    out: list[int] = []
    for item in ranges:
        if isinstance(item, list):
            out.extend(range(item[0], item[1] + 1))
        else:
            assert isinstance(item, int)
            out.append(item)
    return out
