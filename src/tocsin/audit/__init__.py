"""The tamper-evident audit log: RFC 6962 Merkle trees, signed checkpoints, verification.

Every processing operation writes one audit record; the records are the leaves of an
RFC 6962 Merkle tree whose heads the server publishes as C2SP tlog-checkpoints signed
with Ed25519, never signing one inconsistent with an earlier one. ``merkle`` holds the
tree arithmetic (hashes, the ``CompactRange`` frontier, inclusion and consistency proofs
and their RFC 9162 verification), ``checkpoint`` the signed-note format and keys, and
``verify`` the checker for exported logs behind ``tocsin audit verify``. ``log`` ties
them to the store. This package re-exports the pure library; ``log`` is imported on its
own because it needs the database.
"""

from __future__ import annotations

from tocsin.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)
from tocsin.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    LeafHashes,
    MemoryLeafHashes,
    ProofError,
    SubtreeCache,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tocsin.audit.verify import (
    ExportError,
    VerifyReport,
    parse_export,
    record_hash,
    verify_export_file,
    verify_log,
)

__all__ = (
    "EMPTY_ROOT",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "ExportError",
    "LeafHashes",
    "MemoryLeafHashes",
    "ProofError",
    "Signer",
    "SubtreeCache",
    "Verifier",
    "VerifyReport",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "parse_export",
    "record_hash",
    "root",
    "sign_checkpoint",
    "verify_consistency",
    "verify_export_file",
    "verify_inclusion",
    "verify_log",
)
