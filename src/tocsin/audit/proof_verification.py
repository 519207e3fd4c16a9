"""Verification of Merkle inclusion and consistency proofs (RFC 9162 and the MTC draft).

Checks inclusion and consistency proofs exactly as RFC 9162 §2.1.3.2 and §2.1.4.2
describe, and the subtree proofs of the Merkle Tree Certificates draft. A verifier needs
only the proof, the sizes and the roots (from signed checkpoints), never the log's leaf
store. Pure functions: no state.
"""

from __future__ import annotations

from collections.abc import Sequence

from tocsin.audit.tree_hash import EMPTY_ROOT, HASH_SIZE, node_hash, valid_subtree
from tocsin.errors import TocsinError

__all__ = (
    "ProofError",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
)


class ProofError(TocsinError):
    """A Merkle proof does not prove what it claims; ``detail`` names the failed check."""

    status_code = 422
    code = "invalid_proof"


# -- verification ----------------------------------------------------------------------


def _check_proof(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(value)} bytes long; SHA-256 hashes are 32")


def _inclusion_length(index: int, size: int) -> int:
    # Levels below the point where the paths to ``index`` and ``size - 1`` part, each with
    # one sibling, plus one left sibling per set bit of ``index`` above it.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Implements RFC 9162 §2.1.3.2. A proof fits one tree size: checking it against the
    right root with another size can still pass when the tree's shape along the path is
    the same, so always take ``size`` and ``root`` from the same signed checkpoint.

    Args:
        leaf_hash: The leaf's hash (``leaf_hash(data)``).
        index: The leaf's 0-based index.
        size: The tree size the proof was made for.
        proof: The audit path, lowest level first.
        root: The tree head of that size.

    Raises:
        ProofError: the proof does not show inclusion; the message says why.
    """
    _check_proof(proof)
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"the leaf hash is {len(leaf_hash)} bytes long; SHA-256 hashes are 32")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    want = _inclusion_length(index, size)
    if len(proof) != want:
        raise ProofError(f"an inclusion proof for leaf {index} of {size} holds {want} hashes, not {len(proof)}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof has fewer hashes than the tree has levels")
    if r != root:
        raise ProofError(f"the inclusion proof does not lead to the root: leaf {index} is not in this tree")


def _consistency_length(old_size: int, new_size: int) -> int:
    # The audit path of leaf old_size - 1 in the new tree, minus the levels inside the
    # old tree's rightmost perfect subtree, plus that subtree's root unless it is the
    # whole old tree (then the verifier knows it as old_root).
    shift = (old_size & -old_size).bit_length() - 1
    length = _inclusion_length(old_size - 1, new_size) - shift
    return length if old_size == 1 << shift else length + 1


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends that of ``old_size``.

    Implements RFC 9162 §2.1.4.2, for 0 < old_size <= new_size. Equal sizes need an empty
    proof and equal roots. A proof from size 0 is rejected: every tree extends the empty
    one, so there is nothing to prove (trust the new checkpoint's signature instead).

    Args:
        old_size: The earlier tree size.
        new_size: The later tree size.
        old_root: The earlier tree head.
        new_root: The later tree head.
        proof: The consistency proof.

    Raises:
        ProofError: the proof does not show consistency; the message says why.
    """
    _check_proof(proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"a tree of {old_size} leaves cannot be an earlier version of one of {new_size}")
    if old_size == 0:
        raise ProofError("no consistency proof exists from the empty tree: every tree extends it")
    if old_size == new_size:
        if proof:
            raise ProofError(f"both trees hold {old_size} leaves, so the proof must be empty")
        if old_root != new_root:
            raise ProofError(f"both trees hold {old_size} leaves but their roots differ")
        return
    want = _consistency_length(old_size, new_size)
    if len(proof) != want:
        raise ProofError(
            f"a consistency proof from {old_size} to {new_size} leaves holds {want} hashes, not {len(proof)}"
        )
    fr, sr = _consistency_roots(old_size, new_size, old_root, proof)
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the old root of {old_size} leaves")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the new root of {new_size} leaves")


def _consistency_roots(old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Steps 2-6 of RFC 9162 §2.1.4.2: the old and new roots the proof leads to."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof has fewer hashes than the tree has levels")
    return fr, sr


def verify_subtree_inclusion(
    leaf_hash: bytes, index: int, start: int, end: int, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the subtree [start, end) (MTC draft).

    A subtree is laid out like a tree of ``end - start`` leaves, so this is
    ``verify_inclusion`` at ``index - start`` once [start, end) is known to be a subtree.

    Raises:
        ProofError: [start, end) is not a subtree, ``index`` is outside it, or the proof fails.
    """
    if not valid_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a subtree of any Merkle tree")
    if not start <= index < end:
        raise ProofError(f"leaf index {index} is outside the subtree [{start}, {end})")
    verify_inclusion(leaf_hash, index - start, end - start, proof, subtree_root)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes, root: bytes
) -> None:
    """Check that subtree [start, end) with ``subtree_root`` is part of the tree ``root``.

    Follows "Verifying a Subtree Consistency Proof" of the Merkle Tree Certificates
    draft. The empty subtree (start == end <= size) is in every tree: it needs an empty
    proof and ``EMPTY_ROOT`` as its hash, and says nothing about ``root``.

    Raises:
        ProofError: the proof does not show that the subtree is part of the tree.
    """
    _check_proof(proof)
    if start == end and 0 <= start <= size:
        if proof:
            raise ProofError("the empty subtree needs an empty proof")
        if subtree_root != EMPTY_ROOT:
            raise ProofError("the hash of the empty subtree is SHA-256 of the empty string")
        return
    if not valid_subtree(start, end) or end > size:
        raise ProofError(f"[{start}, {end}) is not a subtree of a tree of {size} leaves")
    fr, sr = _subtree_roots(start, end, size, proof, subtree_root)
    if fr != subtree_root:
        raise ProofError(f"the proof does not lead to the hash of subtree [{start}, {end})")
    if sr != root:
        raise ProofError(f"the proof does not lead to the root of the tree of {size} leaves")


def _subtree_roots(start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes) -> tuple[bytes, bytes]:
    """The subtree hash and tree root a subtree consistency proof leads to (MTC draft)."""
    fn, sn, tn = start, end - 1, size - 1
    # Climb to the lowest node the proof starts from: the subtree's own root when it is
    # flush with the tree's right edge, else the first level where it is a left child.
    while fn != sn and (sn == tn or sn & 1):
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    rest = list(proof)
    if fn == sn:
        fr = sr = subtree_root
    elif rest:
        fr = sr = rest.pop(0)
    else:
        raise ProofError("the subtree consistency proof is empty but the subtree is not a single node")
    for c in rest:
        if tn == 0:
            raise ProofError("the subtree consistency proof has more hashes than the tree has levels")
        if sn & 1 or sn == tn:
            if fn < sn:
                fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while sn and not sn & 1:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if tn != 0:
        raise ProofError("the subtree consistency proof has fewer hashes than the tree has levels")
    return fr, sr
