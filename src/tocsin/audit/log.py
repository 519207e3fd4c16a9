"""The audit chain in the store: append records, sign checkpoints, read them back.

Every processing operation (the Law Enforcement Directive Art. 25 list: collection,
alteration, consultation, disclosure, combination, erasure) appends exactly one
``AuditRecord`` *in the same transaction* as the operation, so one is durable if and
only if the other is. Records carry ids, never personal data.

Each stored record is canonical JSON (sorted keys) holding its ``seq`` and the hex leaf
hash of its predecessor (``prev``); its RFC 6962 leaf hash is kept beside it, and the
Merkle frontier of the whole log lives in ``audit_state``. Appends read that state in
the writing transaction, so any process holding SQLite's write lock (the server, or the
CLI next to it) extends the same tree. A checkpoint is signed only after proving that
the current tree extends the last signed one: the stored frontier of that checkpoint,
replayed with the leaves since, must give today's root. So tocsin never signs a view
inconsistent with an earlier one, across restarts.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
from sqlalchemy import Connection, bindparam, select, update

from tocsin._internal.clock import from_us
from tocsin.audit.checkpoint import Checkpoint, Signer, sign_checkpoint
from tocsin.audit.merkle import CompactRange, leaf_hash
from tocsin.errors import TocsinError
from tocsin.store.bulk import bulk_write, driver_cursor
from tocsin.store.schema import audit_checkpoints, audit_records, audit_state

__all__ = (
    "PURPOSES",
    "AuditIntegrityError",
    "AUDIT_SINK",
    "AuditRecord",
    "Justification",
    "Operation",
    "append",
    "id_ranges",
    "latest_checkpoint",
    "load_signer",
    "read_records",
    "sign_new_checkpoint",
)

Operation = Literal["collection", "alteration", "consultation", "disclosure", "combination", "erasure", "access"]
Purpose = Literal["emergency_response", "investigation", "audit", "training", "maintenance", "legal_request"]
PURPOSES: tuple[str, ...] = Purpose.__args__  # type: ignore[attr-defined]
Scalar = str | int | float | bool | None


class AuditIntegrityError(TocsinError):
    """The stored log does not extend the last signed checkpoint: refuse to sign."""

    code = "audit_integrity"


class Justification(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Why someone consults or discloses data: a controlled purpose, free text, a case number."""

    purpose: Purpose
    text: str | None = None
    case: str | None = None


class AuditRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One processing operation: who, in what role, did what to which objects, and why."""

    operation: Operation
    action: str
    actor: str
    role: str
    objects: dict[str, list[Any]] = {}
    justification: Justification | None = None
    recipient: str | None = None
    outcome: str = "ok"
    detail: dict[str, Scalar | list[str]] = {}


_encode_sorted = msgspec.json.Encoder(order="sorted").encode
log = logging.getLogger(__name__)


def id_ranges(ids: Sequence[int]) -> list[Any]:
    """Compact ids as singles and ``[first, last]`` runs: a 10,000-event batch stays small."""
    out: list[Any] = []
    for value in sorted(set(ids)):
        if out and isinstance(out[-1], list) and out[-1][1] == value - 1:
            out[-1][1] = value
        elif out and isinstance(out[-1], int) and out[-1] == value - 1:
            out[-1] = [out[-1], value]
        else:
            out.append(value)
    return out


def _frontier_blob(cr: CompactRange) -> bytes:
    return b"".join(cr.hashes)


def _frontier(size: int, blob: bytes) -> CompactRange:
    return CompactRange.from_state(size, [blob[i : i + 32] for i in range(0, len(blob), 32)])


class _Cache:
    """The last frontier this process saw, reused while the stored state still matches it."""

    key: tuple[int, bytes | None] | None = None
    frontier: CompactRange | None = None


_cache = _Cache()


_STATE_SELECT = "SELECT size, frontier, last_leaf FROM audit_state WHERE id = 1"
"""Read on the driver's cursor: nearly every group commit appends, and SQLAlchemy's
execution of this one-row read and of the state update cost more than the rest of an
append of a few records (about 18 against 1.5 microseconds a statement)."""


def _state(conn: Connection) -> tuple[int, bytes | None, CompactRange]:
    cursor = driver_cursor(conn)
    cursor.execute(_STATE_SELECT)
    row = cursor.fetchone()
    if row is None:
        conn.execute(audit_state.insert().values(id=1, size=0, frontier=b"", last_leaf=None))
        return 0, None, CompactRange.from_state(0, [])
    size, stored_frontier, last_leaf = row
    key = (size, last_leaf)
    if _cache.key != key or _cache.frontier is None:
        try:
            _cache.frontier = _frontier(size, stored_frontier)
        except ValueError:
            return _rebuild(conn)
        _cache.key = key
    return size, last_leaf, _cache.frontier


def _rebuild(conn: Connection) -> tuple[int, bytes | None, CompactRange]:
    """Recompute the frontier from the stored leaves when the stored one is unusable.

    Alarms must keep flowing, so appends go on; whether the rebuilt tree still extends
    the last signed checkpoint is for ``sign_new_checkpoint`` to decide (it refuses if not).
    """
    log.critical("audit frontier unusable; rebuilding it from the stored leaves")
    frontier = CompactRange.from_leaves(
        conn.execute(select(audit_records.c.leaf).order_by(audit_records.c.seq)).scalars()
    )
    last = conn.execute(select(audit_records.c.leaf).order_by(audit_records.c.seq.desc()).limit(1)).scalar()
    conn.execute(
        update(audit_state)
        .where(audit_state.c.id == 1)
        .values(size=frontier.size, frontier=_frontier_blob(frontier), last_leaf=last)
    )
    _cache.key, _cache.frontier = (frontier.size, last), frontier
    return frontier.size, last, frontier


def append(conn: Connection, records: Sequence[AuditRecord], *, at_us: int) -> int:
    """Append ``records`` to the log inside the caller's transaction; returns the new size."""
    return append_timed(conn, [(record, at_us) for record in records])


class _GroupAudit:
    """The writer's group sink for audit records: one append per group commit."""

    def flush(self, conn: Connection, items: list[Any]) -> None:
        append_timed(conn, [(record, at) for records, at in items for record in records])


AUDIT_SINK = _GroupAudit()
"""Pass to ``Tx.defer(AUDIT_SINK, (records, at_us))`` to audit within the job's transaction."""

_STATE_UPDATE = (
    update(audit_state)
    .where(audit_state.c.id == bindparam("i"))
    .values(size=bindparam("s"), frontier=bindparam("f"), last_leaf=bindparam("l"))
)


def append_timed(conn: Connection, records: Sequence[tuple[AuditRecord, int]]) -> int:
    """Append (record, time) pairs in order inside the caller's transaction; returns the new size."""
    if not records:
        return 0
    size, last, frontier = _state(conn)
    _cache.key = None  # mutated below; re-validated against the stored state next time
    rows: list[dict[str, Any]] = []
    for record, at_us in records:
        body = msgspec.to_builtins(record)
        at = from_us(at_us).isoformat().replace("+00:00", "Z")
        body.update(seq=size, at=at, prev=last.hex() if last else "")
        data = _encode_sorted(body)
        leaf = leaf_hash(data)
        frontier.append(leaf)
        rows.append(
            {
                "seq": size,
                "at_us": at_us,
                "actor": record.actor,
                "role": record.role,
                "operation": record.operation,
                "action": record.action,
                "record": data.decode(),
                "leaf": leaf,
            }
        )
        last = leaf
        size += 1
    bulk_write(conn, "audit_records", audit_records.insert(), rows)
    bulk_write(conn, "audit_state", _STATE_UPDATE, [{"i": 1, "s": size, "f": _frontier_blob(frontier), "l": last}])
    _cache.key = (size, last)
    _cache.frontier = frontier
    return size


def latest_checkpoint(conn: Connection) -> Mapping[Any, Any] | None:
    return conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.size.desc()).limit(1)).mappings().first()


def sign_new_checkpoint(conn: Connection, signer: Signer, origin: str, *, at_us: int) -> str | None:
    """Sign the current tree if it grew since the last checkpoint; returns the note or None.

    Raises:
        AuditIntegrityError: the stored log does not extend the last signed checkpoint.
    """
    size, _last, frontier = _state(conn)
    last = latest_checkpoint(conn)
    if size == 0 or (last is not None and last["size"] == size):
        return None
    root = frontier.root()
    if last is not None:
        if last["size"] > size:
            raise AuditIntegrityError(f"audit log holds {size} records but checkpoint {last['size']} was signed")
        replay = _frontier(last["size"], last["frontier"])
        if replay.root() != last["root"]:
            raise AuditIntegrityError(f"stored frontier of checkpoint {last['size']} does not give its signed root")
        leaves = conn.execute(
            select(audit_records.c.leaf)
            .where(audit_records.c.seq >= last["size"], audit_records.c.seq < size)
            .order_by(audit_records.c.seq)
        ).scalars()
        count = 0
        for leaf in leaves:
            replay.append(leaf)
            count += 1
        if count != size - last["size"] or replay.root() != root:
            raise AuditIntegrityError(f"the audit log no longer extends checkpoint {last['size']}; refusing to sign")
    note = sign_checkpoint(Checkpoint(origin=origin, size=size, root=root), signer)
    conn.execute(
        audit_checkpoints.insert().values(
            size=size, root=root, frontier=_frontier_blob(frontier), note=note, at_us=at_us
        )
    )
    return note


def read_records(conn: Connection, *, start: int = 0, limit: int | None = None) -> Iterator[str]:
    """Stored records' canonical JSON text, in seq order."""
    stmt = select(audit_records.c.record).where(audit_records.c.seq >= start).order_by(audit_records.c.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    yield from conn.execute(stmt).scalars()


def load_signer(path: Path, origin: str) -> Signer:
    """The Ed25519 signing key at ``path``, made on first use (mode 0600)."""
    if path.exists():
        return Signer.from_pem(path.read_bytes(), name=origin)
    signer = Signer.generate(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(signer.to_pem())
    return signer


def default_origin() -> str:
    return f"tocsin/{socket.gethostname()}"
