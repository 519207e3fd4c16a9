"""Inclusion and consistency proofs generated from a log's leaf hashes (RFC 9162).

Builds the audit paths of RFC 9162 §2.1.3.1 and the consistency proofs of §2.1.4.1
(plus the subtree proofs of the Merkle Tree Certificates draft, which reduce to the same
arithmetic) from any ``LeafHashes`` store, sharing the roots of perfect subtrees through
a ``SubtreeCache``. Nothing here has side effects beyond reading the store it is given;
only ``SubtreeCache`` holds state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from tocsin.audit.tree_hash import EMPTY_ROOT, fold_level, node_hash, valid_subtree
from tocsin.errors import InvalidRequest

__all__ = (
    "LeafHashes",
    "MemoryLeafHashes",
    "SubtreeCache",
    "consistency_proof",
    "inclusion_proof",
    "subtree_consistency_proof",
    "subtree_inclusion_proof",
    "tree_root",
)


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
    value = fold_level(level)
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
    if not valid_subtree(start, end) or not start <= index < end:
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
    if not valid_subtree(start, end) or end > size:
        raise InvalidRequest(f"[{start}, {end}) is not a subtree of a tree of {size} leaves")
    return _subtree_proof(leaves, start, end, size, _or_scratch(cache))
