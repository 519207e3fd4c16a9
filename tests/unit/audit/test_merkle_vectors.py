"""Every proof vector of transparency-dev/merkle's testdata: accepted or rejected as it says.

``inclusion`` and ``consistency`` exercise RFC 9162 §2.1.3.2 / §2.1.4.2; the
``subtreeinclusion`` and ``subtreeconsistency`` folders exercise the subtree proofs of
the Merkle Tree Certificates draft. Hashes are base64; ``wantErr`` says whether a correct
verifier must reject the case.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.audit.merkle import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "merkle-vectors" / "testdata"
FOLDERS = ("inclusion", "consistency", "subtreeinclusion", "subtreeconsistency")
pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"merkle test vectors not found at {VECTORS}")


def vectors(folder: str) -> list[Any]:
    files = sorted((VECTORS / folder).rglob("*.json")) if VECTORS.is_dir() else []
    return [pytest.param(path, id=str(path.relative_to(VECTORS))) for path in files]


def load(path: Path) -> tuple[dict[str, Any], list[bytes]]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case, [b64(value) for value in case.get("proof") or []]


def b64(value: str) -> bytes:
    return base64.b64decode(value) if value else b""


def check(case: dict[str, Any], verify: Any, *args: Any) -> None:
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify(*args)
    else:
        verify(*args)


@pytest.mark.parametrize("path", vectors("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case, proof = load(path)
    leaf, index, size, root = b64(case["leafHash"]), case["leafIdx"], case["treeSize"], b64(case["root"])
    check(case, verify_inclusion, leaf, index, size, proof, root)


@pytest.mark.parametrize("path", vectors("consistency"))
def test_consistency_vector(path: Path) -> None:
    case, proof = load(path)
    old, new = case["size1"], case["size2"]
    check(case, verify_consistency, old, new, b64(case["root1"]), b64(case["root2"]), proof)


@pytest.mark.parametrize("path", vectors("subtreeinclusion"))
def test_subtree_inclusion_vector(path: Path) -> None:
    case, proof = load(path)
    leaf, root = b64(case["leafHash"]), b64(case["root"])
    check(case, verify_subtree_inclusion, leaf, case["leafIdx"], case["start"], case["end"], proof, root)


@pytest.mark.parametrize("path", vectors("subtreeconsistency"))
def test_subtree_consistency_vector(path: Path) -> None:
    case, proof = load(path)
    start, end, size = case["start"], case["end"], case["size"]
    check(case, verify_subtree_consistency, start, end, size, proof, b64(case["root1"]), b64(case["root2"]))


def test_every_vector_folder_is_present_and_covered() -> None:
    counts = {folder: len(vectors(folder)) for folder in FOLDERS}
    assert all(counts.values()), counts
    on_disk = sum(1 for _ in VECTORS.rglob("*.json"))
    assert sum(counts.values()) == on_disk
