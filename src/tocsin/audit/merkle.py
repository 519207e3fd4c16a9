"""RFC 6962 / RFC 9162 Merkle trees over audit records: hashes, frontier, proofs.

This module owns the arithmetic of the audit log's tree: the leaf and node hashes
(SHA-256 with the 0x00 / 0x01 domain-separation prefixes), the tree head ``root`` of a
list of leaf hashes, the ``CompactRange`` frontier a writer keeps to extend the tree in
O(log n) time and memory, inclusion and consistency proofs generated from any
``LeafHashes`` store, and their verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2
describe (plus the subtree proofs of the Merkle Tree Certificates draft, which reduce to
the same arithmetic). It knows nothing of records, storage or signatures: the caller
hashes its records into leaves, persists the frontier, and signs roots (``checkpoint``).
Nothing here has side effects beyond reading the store it is given; only ``CompactRange``
and ``SubtreeCache`` hold state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from tocsin.errors import InvalidRequest, TocsinError

__all__ = (
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "LeafHashes",
    "MemoryLeafHashes",
    "ProofError",
    "SubtreeCache",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_consistency_proof",
    "subtree_inclusion_proof",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
)

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree, SHA-256 of the empty string."""

_sha256 = hashlib.sha256


class ProofError(TocsinError):
    """A Merkle proof does not prove what it claims; ``detail`` names the failed check."""

    status_code = 422
    code = "invalid_proof"


# -- hashing ---------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one leaf: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _fold_level(level: list[bytes]) -> bytes:
    """Hash a non-empty list of subtree roots up to its MTH, level by level.

    Carrying an odd last node up unchanged gives exactly MTH's split at the largest
    power of two below n, without recursion.
    """
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if odd is not None:
            level.append(odd)
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes.

    Args:
        leaf_hashes: The leaves' hashes (``leaf_hash`` of each leaf's bytes), in order.

    Returns:
        The 32-byte root; ``EMPTY_ROOT`` for an empty list.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    return _fold_level(list(leaf_hashes))


# -- the frontier ----------------------------------------------------------------------


class CompactRange:
    """The Merkle tree frontier: the roots of the perfect subtrees that make up [0, size).

    A tree of ``size`` leaves is the concatenation of one perfect subtree per set bit of
    ``size``, largest first; keeping just their roots (at most 64 hashes) is enough to
    append more leaves and to compute the tree head. The server keeps one in memory,
    appends each new record's leaf hash, and persists ``size`` and ``hashes``; restore it
    with ``from_state``. Not thread-safe: appends must come from the single writer.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Restore a frontier persisted as ``size`` and ``hashes``.

        Args:
            size: The number of leaves the frontier covers.
            hashes: Its subtree roots, largest subtree first, as ``hashes`` returned them.

        Returns:
            The frontier.

        Raises:
            ValueError: the hashes do not fit the size (one 32-byte hash per set bit).
        """
        if size < 0:
            raise ValueError(f"a frontier cannot cover {size} leaves")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves holds {size.bit_count()} hashes, not {len(hashes)}")
        for value in hashes:
            _check_hash_arg(value, "frontier hash")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [bytes(value) for value in hashes]
        return frontier

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> CompactRange:
        """The frontier of a tree holding ``leaf_hashes``."""
        frontier = cls()
        frontier.extend(leaf_hashes)
        return frontier

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect subtrees' roots, largest (leftmost) first: the state to persist."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at index ``size``; O(log n) hashing, amortised O(1)."""
        _check_hash_arg(leaf_hash, "leaf hash")
        value = leaf_hash
        size = self._size
        # Each trailing one bit of the old size is a perfect subtree the new leaf completes.
        while size & 1:
            value = _sha256(b"\x01" + self._hashes.pop() + value).digest()
            size >>= 1
        self._hashes.append(value)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each of ``leaf_hashes`` in order."""
        for value in leaf_hashes:
            self.append(value)

    def root(self) -> bytes:
        """The tree head of the leaves appended so far; ``EMPTY_ROOT`` when none."""
        if not self._hashes:
            return EMPTY_ROOT
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = _sha256(b"\x01" + left + value).digest()
        return value

    def copy(self) -> CompactRange:
        """An independent frontier with the same state."""
        return CompactRange.from_state(self._size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"


def _check_hash_arg(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"a {what} is {HASH_SIZE} bytes, not {len(value)}")


# -- leaf stores and the subtree cache -------------------------------------------------


class LeafHashes(Protocol):
    """Read access to a log's leaf hashes by 0-based index.

    The store must be append-only: once ``size`` exceeds ``i``, ``get(i)`` never changes.
    ``range`` exists for speed (one query instead of one per leaf); both may be called
    from any thread that owns the implementation.
    """

    @property
    def size(self) -> int:
        """The number of leaves stored."""
        ...

    def get(self, index: int) -> bytes:
        """The leaf hash at ``index`` (``0 <= index < size``)."""
        ...

    def range(self, start: int, end: int) -> Sequence[bytes]:
        """The leaf hashes at ``start`` … ``end - 1``, in order."""
        ...


class MemoryLeafHashes:
    """``LeafHashes`` over a Python list: for tests, tools and small logs."""

    __slots__ = ("_hashes",)

    def __init__(self, hashes: Iterable[bytes] = ()) -> None:
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """The number of leaves stored."""
        return len(self._hashes)

    def get(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._hashes[index]

    def range(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes at ``start`` … ``end - 1``."""
        return self._hashes[start:end]

    def append(self, leaf_hash: bytes) -> None:
        """Store one more leaf hash."""
        self._hashes.append(leaf_hash)


class SubtreeCache:
    """Roots of perfect subtrees, which never change once their last leaf exists.

    Proofs for one log can share a cache, making each proof cost O(log n) cached look-ups
    plus at most ``2**min_height`` leaves per level instead of O(n) hashing. Only subtrees
    of height ``min_height`` or more are kept (about ``n / 2**(min_height-1)`` entries),
    and at most ``max_entries`` of them: past that, new roots are computed but not kept.
    One cache belongs to one log. Safe to share between threads: entries are immutable
    and writing one twice writes the same value.
    """

    __slots__ = ("_roots", "max_entries", "min_height")

    def __init__(self, *, min_height: int = 8, max_entries: int = 1_000_000) -> None:
        self.min_height = min_height
        self.max_entries = max_entries
        self._roots: dict[tuple[int, int], bytes] = {}

    def get(self, height: int, index: int) -> bytes | None:
        """The cached root of the ``index``-th perfect subtree of ``height``, if known."""
        return self._roots.get((height, index))

    def put(self, height: int, index: int, value: bytes) -> None:
        """Remember a perfect subtree's root (ignored below ``min_height`` or when full)."""
        if height >= self.min_height and len(self._roots) < self.max_entries:
            self._roots[(height, index)] = value

    def __len__(self) -> int:
        return len(self._roots)


def _scratch() -> SubtreeCache:
    # No caching: perfect subtrees are hashed straight from one ``range`` call each.
    return SubtreeCache(min_height=64, max_entries=0)


def _or_scratch(cache: SubtreeCache | None) -> SubtreeCache:
    # Not ``cache or …``: an empty cache is falsy (it has a length).
    return _scratch() if cache is None else cache


def _perfect_root(leaves: LeafHashes, height: int, index: int, cache: SubtreeCache) -> bytes:
    """Root of leaves [index * 2**height, (index + 1) * 2**height), all of which exist."""
    if height >= cache.min_height:
        hit = cache.get(height, index)
        if hit is not None:
            return hit
        if height > cache.min_height:
            value = node_hash(
                _perfect_root(leaves, height - 1, 2 * index, cache),
                _perfect_root(leaves, height - 1, 2 * index + 1, cache),
            )
            cache.put(height, index, value)
            return value
    start = index << height
    if height == 0:
        return leaves.get(start)
    level = list(leaves.range(start, start + (1 << height)))
    if len(level) != 1 << height:
        raise ValueError(f"leaf store returned {len(level)} hashes for [{start}, {start + (1 << height)})")
    value = _fold_level(level)
    cache.put(height, index, value)
    return value


def _range_root(leaves: LeafHashes, start: int, end: int, cache: SubtreeCache) -> bytes:
    """MTH of leaves [start, end), an aligned subtree: its perfect parts, folded."""
    parts: list[bytes] = []
    position, remaining = start, end - start
    while remaining:
        height = remaining.bit_length() - 1
        parts.append(_perfect_root(leaves, height, position >> height, cache))
        position += 1 << height
        remaining -= 1 << height
    value = parts[-1]
    for left in reversed(parts[:-1]):
        value = node_hash(left, value)
    return value


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- proof generation ------------------------------------------------------------------


def _check_tree(leaves: LeafHashes, size: int) -> None:
    if not 0 <= size <= leaves.size:
        raise InvalidRequest(f"tree size {size} is outside the log's 0…{leaves.size} leaves")


def _valid_subtree(start: int, end: int) -> bool:
    # [start, end) is a subtree iff start is a multiple of the smallest power of two
    # holding end - start leaves (Merkle Tree Certificates draft, "Subtrees").
    return 0 <= start < end and start % (1 << (end - start - 1).bit_length()) == 0


def tree_root(leaves: LeafHashes, size: int, *, cache: SubtreeCache | None = None) -> bytes:
    """The root of the first ``size`` leaves of ``leaves``.

    Raises:
        InvalidRequest: ``size`` is negative or beyond the store.
    """
    _check_tree(leaves, size)
    return _range_root(leaves, 0, size, _or_scratch(cache)) if size else EMPTY_ROOT


def _path(leaves: LeafHashes, index: int, base: int, n: int, cache: SubtreeCache) -> list[bytes]:
    # RFC 9162 §2.1.3.1 PATH(m, D[n]), top-down; the sibling nearest the root comes last.
    out: list[bytes] = []
    while n > 1:
        k = _split(n)
        if index < k:
            out.append(_range_root(leaves, base + k, base + n, cache))
            n = k
        else:
            out.append(_range_root(leaves, base, base + k, cache))
            index, base, n = index - k, base + k, n - k
    out.reverse()
    return out


def inclusion_proof(leaves: LeafHashes, index: int, size: int, *, cache: SubtreeCache | None = None) -> list[bytes]:
    """The audit path PATH(index, D[size]) of RFC 9162 §2.1.3.1.

    Args:
        leaves: The log's leaf hashes.
        index: The leaf to prove, ``0 <= index < size``.
        size: The tree size the proof is for (that of a signed checkpoint).
        cache: A ``SubtreeCache`` for this log; without one each proof hashes O(size).

    Returns:
        The proof hashes, lowest level first.

    Raises:
        InvalidRequest: ``size`` is beyond the store or ``index`` outside the tree.
    """
    _check_tree(leaves, size)
    if not 0 <= index < size:
        raise InvalidRequest(f"leaf index {index} is outside a tree of {size} leaves")
    return _path(leaves, index, 0, size, _or_scratch(cache))


def _subtree_proof(leaves: LeafHashes, start: int, end: int, size: int, cache: SubtreeCache) -> list[bytes]:
    # SUBTREE_PROOF(start, end, D[size]) of the MTC draft; with start == 0 it is exactly
    # RFC 9162 §2.1.4.1 PROOF(end, D[size]) (its SUBPROOF with b = true).
    out: list[bytes] = []
    base, n, known = 0, size, True
    while not (start == 0 and end == n):
        k = _split(n)
        if end <= k:
            out.append(_range_root(leaves, base + k, base + n, cache))
            n = k
        else:
            # start >= k, or start == 0 < k < end: either way the left half is a sibling.
            out.append(_range_root(leaves, base, base + k, cache))
            known = known and start >= k
            start, end, base, n = max(start - k, 0), end - k, base + k, n - k
    if not known:
        out.append(_range_root(leaves, base, base + n, cache))
    out.reverse()
    return out


def consistency_proof(
    leaves: LeafHashes, old_size: int, new_size: int, *, cache: SubtreeCache | None = None
) -> list[bytes]:
    """The consistency proof PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1.

    Args:
        leaves: The log's leaf hashes.
        old_size: The earlier tree size, ``0 < old_size <= new_size``.
        new_size: The later tree size.
        cache: A ``SubtreeCache`` for this log.

    Returns:
        The proof hashes; empty when the sizes are equal.

    Raises:
        InvalidRequest: the sizes are out of order, zero, or beyond the store. (Every
            tree extends the empty one, so RFC 9162 defines no proof from size 0.)
    """
    _check_tree(leaves, new_size)
    if not 0 < old_size <= new_size:
        raise InvalidRequest(f"no consistency proof exists from {old_size} to {new_size} leaves")
    if old_size == new_size:
        return []
    return _subtree_proof(leaves, 0, old_size, new_size, _or_scratch(cache))


def subtree_inclusion_proof(
    leaves: LeafHashes, index: int, start: int, end: int, *, cache: SubtreeCache | None = None
) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the subtree [start, end) (MTC draft).

    Raises:
        InvalidRequest: [start, end) is not a subtree of the store, or ``index`` is outside it.
    """
    _check_tree(leaves, end)
    if not _valid_subtree(start, end) or not start <= index < end:
        raise InvalidRequest(f"leaf {index} is not in a subtree [{start}, {end})")
    return _path(leaves, index - start, start, end - start, _or_scratch(cache))


def subtree_consistency_proof(
    leaves: LeafHashes, start: int, end: int, size: int, *, cache: SubtreeCache | None = None
) -> list[bytes]:
    """The proof that subtree [start, end) sits inside the tree of ``size`` (MTC draft).

    Raises:
        InvalidRequest: [start, end) is not a subtree of the tree of ``size`` leaves.
    """
    _check_tree(leaves, size)
    if not _valid_subtree(start, end) or end > size:
        raise InvalidRequest(f"[{start}, {end}) is not a subtree of a tree of {size} leaves")
    return _subtree_proof(leaves, start, end, size, _or_scratch(cache))


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
    if not _valid_subtree(start, end):
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
    if not _valid_subtree(start, end) or end > size:
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
