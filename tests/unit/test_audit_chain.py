"""The audit chain as the store keeps it: one record per operation, signed, tamper-evident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from tests.conftest import SyncEngine
from tests.unit.engine.test_correlate import ev
from tocsin.audit.checkpoint import Signer, Verifier, open_checkpoint
from tocsin.audit.log import AuditIntegrityError, AuditRecord, append, read_records, sign_new_checkpoint
from tocsin.audit.verify import verify_log
from tocsin.cli import app
from tocsin.engine.actions import action_job
from tocsin.model import ActionRequest, Actor
from tocsin.store.schema import audit_checkpoints, audit_records, audit_state
from tocsin.store.sqlite import Database

ORIGIN = "tocsin.test/audit"
OP = Actor(name="op-anna", role="operator")


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def _records(db: Database) -> list[dict[str, object]]:
    with db.read_engine.connect() as conn:
        return [msgspec.json.decode(t) for t in read_records(conn)]


def _sign(db: Database, signer: Signer, at: int = 1) -> str | None:
    with db.write_engine.connect() as conn, conn.begin():
        return sign_new_checkpoint(conn, signer, ORIGIN, at_us=at)


def _notes(db: Database) -> list[str]:
    with db.read_engine.connect() as conn:
        return list(conn.execute(select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.size)).scalars())


def test_each_operation_writes_exactly_one_record(engine: SyncEngine) -> None:
    before = len(_records(engine.db))  # the seeded dictionary is one alteration
    r = engine.ingest([ev(), ev(), ev(site="b", external_id="x")])
    engine.ingest([ev(site="b", external_id="x")])  # a duplicate is still one collection
    req = ActionRequest(action="acknowledge")
    engine.writer.run_blocking(action_job(engine.state, r[0][1] or 0, req, OP, now_us=9))
    recs = _records(engine.db)[before:]
    assert [(x["operation"], x["action"]) for x in recs] == [
        ("collection", "events.ingest"),
        ("collection", "events.ingest"),
        ("alteration", "incident.acknowledge"),
    ]
    assert recs[0]["objects"] == {"events": [[1, 3]], "incidents": [[1, 2]]}
    assert recs[2]["actor"] == "op-anna" and recs[2]["role"] == "operator"
    assert [x["seq"] for x in recs] == list(range(before, before + 3))


def test_records_hold_ids_never_content(engine: SyncEngine) -> None:
    engine.ingest([ev(description="Smoke seen by Mrs Example at flat 4", attributes={"zone": "kitchen"})])
    text = msgspec.json.encode(_records(engine.db)).decode()
    assert "Example" not in text and "kitchen" not in text


def test_signed_checkpoint_covers_the_log_and_verifies(engine: SyncEngine, signer: Signer) -> None:
    engine.ingest([ev()])
    note = _sign(engine.db, signer)
    assert note is not None
    cp = open_checkpoint(note, signer.verifier())
    assert cp.size == len(_records(engine.db)) and cp.origin == ORIGIN
    assert _sign(engine.db, signer) is None  # nothing new, nothing signed
    report = verify_log(_records(engine.db), _notes(engine.db), signer.verifier())
    assert report.ok, report.problem


@pytest.mark.parametrize("how", ["rewrite a leaf since the checkpoint", "shrink below the checkpoint"])
def test_never_signs_a_view_inconsistent_with_an_earlier_one(engine: SyncEngine, signer: Signer, how: str) -> None:
    engine.ingest([ev()])
    _sign(engine.db, signer)
    signed = len(_records(engine.db))
    engine.ingest([ev(site="z")])
    with engine.db.write_engine.begin() as conn:
        if how.startswith("rewrite"):
            conn.execute(update(audit_records).where(audit_records.c.seq == signed).values(leaf=b"\x00" * 32))
        else:
            conn.execute(delete(audit_records).where(audit_records.c.seq >= signed - 1))
            conn.execute(update(audit_state).values(size=signed - 1))
    with pytest.raises(AuditIntegrityError):
        _sign(engine.db, signer)


def test_verifier_keys_round_trip_even_with_plus_in_base64() -> None:
    for _ in range(64):  # about half of random keys have a '+' in their base64
        key = Signer.generate(ORIGIN).verifier_key()
        assert Verifier.from_key(key).key() == key


def _tampered(db: Database, how: str) -> None:
    with db.write_engine.begin() as conn:
        rows = conn.execute(select(audit_records).order_by(audit_records.c.seq)).mappings().all()
        if how == "modify":
            body = msgspec.json.decode(rows[2]["record"])
            body["actor"] = "someone-else"
            conn.execute(
                update(audit_records)
                .where(audit_records.c.seq == 2)
                .values(record=msgspec.json.encode(body, order="sorted").decode())
            )
        elif how == "delete":
            conn.execute(delete(audit_records).where(audit_records.c.seq == 2))
        elif how == "insert":
            forged = dict(msgspec.json.decode(rows[2]["record"]))
            forged.update(action="incident.note", seq=3, prev=rows[2]["leaf"].hex())
            conn.execute(update(audit_records).where(audit_records.c.seq >= 3).values(seq=audit_records.c.seq + 1000))
            conn.execute(
                audit_records.insert().values(**{**rows[2], "seq": 3, "record": msgspec.json.encode(forged).decode()})
            )
        elif how == "reorder":
            conn.execute(update(audit_records).where(audit_records.c.seq == 2).values(seq=-1))
            conn.execute(update(audit_records).where(audit_records.c.seq == 3).values(seq=2))
            conn.execute(update(audit_records).where(audit_records.c.seq == -1).values(seq=3))
            # keep the stored seq field and the row order apart: swap the texts too
            a, b = rows[2]["record"], rows[3]["record"]
            conn.execute(update(audit_records).where(audit_records.c.seq == 2).values(record=b))
            conn.execute(update(audit_records).where(audit_records.c.seq == 3).values(record=a))
        elif how == "truncate":
            conn.execute(delete(audit_records).where(audit_records.c.seq >= 4))


@pytest.fixture
def signed_db(engine: SyncEngine, signer: Signer, tmp_path: Path) -> Iterator[tuple[SyncEngine, Path]]:
    for i in range(6):
        engine.ingest([ev(site=f"s{i}")])
    _sign(engine.db, signer)
    key = tmp_path / "t.db.audit-key"
    key.write_bytes(signer.to_pem())
    yield engine, key


@pytest.mark.parametrize(
    ("how", "first_bad"), [("modify", 2), ("delete", 2), ("insert", 3), ("reorder", 2), ("truncate", 4)]
)
def test_cli_verify_names_the_first_bad_record(
    signed_db: tuple[SyncEngine, Path], tmp_path: Path, how: str, first_bad: int
) -> None:
    engine, _key = signed_db
    db_path = str(engine.db.path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'audit_origin = "{ORIGIN}"\n')
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", db_path, "--config", str(cfg)])
    assert ok.exit_code == 0, ok.output
    _tampered(engine.db, how)
    bad = runner.invoke(app, ["audit", "verify", "--db", db_path, "--config", str(cfg)])
    assert bad.exit_code == 1, bad.output
    assert f"first bad record: {first_bad}" in bad.output


def test_export_then_verify_file_and_tampered_file(signed_db: tuple[SyncEngine, Path], tmp_path: Path) -> None:
    engine, _key = signed_db
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'audit_origin = "{ORIGIN}"\n')
    out = tmp_path / "audit.jsonl"
    runner = CliRunner()
    db_path = str(engine.db.path)
    res = runner.invoke(app, ["audit", "export", "--db", db_path, "--out", str(out), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    records = [line for line in lines if not line.startswith('{"checkpoint"')]
    assert '"audit.export"' in records[-1] and lines[-1].startswith('{"checkpoint"')
    key = runner.invoke(app, ["audit", "pubkey", "--db", db_path, "--config", str(cfg)]).output.strip()
    assert key.startswith(ORIGIN + "+")
    good = runner.invoke(app, ["audit", "verify", "--file", str(out), "--key", key])
    assert good.exit_code == 0, good.output
    lines[3] = lines[3].replace('"collection"', '"consultation"')
    out.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(app, ["audit", "verify", "--file", str(out), "--key", key])
    assert bad.exit_code == 1 and "first bad record: 3" in bad.output


def test_append_from_two_writers_extends_one_tree(db: Database, signer: Signer) -> None:
    with db.write_engine.begin() as conn:
        append(conn, [AuditRecord("access", "a", "x", "admin")], at_us=1)
    with db.write_engine.begin() as conn:
        conn.execute(update(audit_records).where(audit_records.c.seq == 0).values(at_us=1))  # untouched text
        append(conn, [AuditRecord("access", "b", "y", "admin")], at_us=2)
    assert [r["prev"] != "" for r in _records(db)] == [False, True]
    assert _sign(db, signer) is not None
    assert verify_log(_records(db), _notes(db), signer.verifier()).ok
