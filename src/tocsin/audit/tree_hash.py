"""RFC 6962 / RFC 9162 Merkle tree hashing: leaf and node hashes, tree heads, the frontier.

The arithmetic every other part of the audit tree builds on: the leaf and node hashes
(SHA-256 with the 0x00 / 0x01 domain-separation prefixes), the tree head ``root`` of a
list of leaf hashes, the ``CompactRange`` frontier a writer keeps to extend the tree in
O(log n) time and memory, and the shape of a subtree (Merkle Tree Certificates draft).
Proofs are built in ``proofs`` and checked in ``proof_verification``; ``merkle``
re-exports all three. Only ``CompactRange`` holds state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = (
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "fold_level",
    "leaf_hash",
    "node_hash",
    "root",
    "valid_subtree",
)

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the root of the empty tree, SHA-256 of the empty string."""

_sha256 = hashlib.sha256


# -- hashing ---------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one leaf: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def fold_level(level: list[bytes]) -> bytes:
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
    return fold_level(list(leaf_hashes))


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


# -- subtrees --------------------------------------------------------------------------


def valid_subtree(start: int, end: int) -> bool:
    # [start, end) is a subtree iff start is a multiple of the smallest power of two
    # holding end - start leaves (Merkle Tree Certificates draft, "Subtrees").
    return 0 <= start < end and start % (1 << (end - start - 1).bit_length()) == 0
