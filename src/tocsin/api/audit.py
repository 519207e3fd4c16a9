"""``/api/v1/audit``: the audit chain for auditors, and its signed checkpoint for anyone.

Reading records or proofs is itself a consultation and is written to the chain (purpose
``audit`` unless the auditor gives another). The latest checkpoint is public, as in
Certificate Transparency: it reveals only the log's size and root.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.params import Parameter
from sqlalchemy import Connection, select

from tocsin.api.consult import justification_of
from tocsin.api.security import actor_of, requires
from tocsin.audit.log import AuditRecord, Justification, latest_checkpoint, read_records
from tocsin.audit.merkle import consistency_proof, inclusion_proof
from tocsin.errors import InvalidRequest, NotFound
from tocsin.store.schema import audit_records, audit_state

if TYPE_CHECKING:
    from tocsin.app import Runtime

__all__ = ("audit_checkpoint", "audit_consistency", "audit_inclusion", "audit_records_page")

_AUDIT = Justification(purpose="audit", text="audit log review")


class StoredLeaves:
    """Leaf hashes read from the store for proof building."""

    def __init__(self, conn: Connection, size: int) -> None:
        self._conn = conn
        self.size = size

    def get(self, index: int) -> bytes:
        leaf: bytes = self._conn.execute(select(audit_records.c.leaf).where(audit_records.c.seq == index)).scalar_one()
        return leaf

    def range(self, start: int, end: int) -> list[bytes]:
        stmt = (
            select(audit_records.c.leaf)
            .where(audit_records.c.seq >= start, audit_records.c.seq < end)
            .order_by(audit_records.c.seq)
        )
        return list(self._conn.execute(stmt).scalars())


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


async def _log_read(request: Request[Any, Any, Any], action: str, objects: dict[str, list[Any]]) -> None:
    runtime: Runtime = request.app.state.runtime
    actor = actor_of(request)
    record = AuditRecord(
        "consultation",
        action,
        actor.name,
        actor.role,
        objects=objects,
        justification=justification_of(request) or _AUDIT,
    )
    await runtime.audit_event(record)


def _size(conn: Connection) -> int:
    size = conn.execute(select(audit_state.c.size).where(audit_state.c.id == 1)).scalar()
    return int(size or 0)


@get("/api/v1/audit/checkpoint", summary="The latest signed checkpoint (C2SP tlog-checkpoint)")
async def audit_checkpoint(request: Request[Any, Any, Any]) -> Response[str]:
    runtime: Runtime = request.app.state.runtime
    row = await runtime.db.read(latest_checkpoint)
    if row is None:
        raise NotFound("no checkpoint has been signed yet")
    return Response(row["note"], media_type="text/plain; charset=utf-8")


@get("/api/v1/audit/records", guards=[requires("audit:read")], summary="Audit records in order (auditors)")
async def audit_records_page(
    request: Request[Any, Any, Any],
    start: Annotated[int, Parameter(ge=0)] = 0,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime

    def read(conn: Connection) -> tuple[list[Any], int]:
        return [msgspec.json.decode(t) for t in read_records(conn, start=start, limit=limit)], _size(conn)

    records, size = await runtime.db.read(read)
    end = start + len(records)
    await _log_read(request, "audit.read", {"audit_records": [[start, end - 1]] if records else []})
    return {"records": records, "size": size, "next": end if end < size else None}


@get("/api/v1/audit/proof/inclusion", guards=[requires("audit:read")], summary="RFC 6962 inclusion proof")
async def audit_inclusion(
    request: Request[Any, Any, Any],
    index: Annotated[int, Parameter(ge=0)],
    size: Annotated[int | None, Parameter(ge=1)] = None,
) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime

    def build(conn: Connection) -> dict[str, Any]:
        tree = size or _size(conn)
        if index >= tree or tree > _size(conn):
            raise InvalidRequest(f"index {index} / size {tree}: outside the log of {_size(conn)} records")
        leaves = StoredLeaves(conn, tree)
        proof = inclusion_proof(leaves, index, tree, cache=runtime.proof_cache)
        return {"index": index, "size": tree, "leaf_hash": _b64([leaves.get(index)])[0], "proof": _b64(proof)}

    body = await runtime.db.read(build)
    await _log_read(request, "audit.proof", {"audit_records": [index]})
    return body


@get("/api/v1/audit/proof/consistency", guards=[requires("audit:read")], summary="RFC 6962 consistency proof")
async def audit_consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, Parameter(query="from", ge=1)],
    second: Annotated[int | None, Parameter(query="to", ge=1)] = None,
) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime

    def build(conn: Connection) -> dict[str, Any]:
        size = _size(conn)
        new = second or size
        if not first <= new <= size:
            raise InvalidRequest(f"from {first} / to {new}: need 1 <= from <= to <= {size}")
        proof = consistency_proof(StoredLeaves(conn, new), first, new, cache=runtime.proof_cache)
        return {"from": first, "to": new, "proof": _b64(proof)}

    body = await runtime.db.read(build)
    await _log_read(request, "audit.proof", {"audit_records": [[0, (second or first) - 1]]})
    return body
