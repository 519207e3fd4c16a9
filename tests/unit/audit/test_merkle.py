"""The Merkle tree arithmetic against RFC 6962 by the letter: known answers, a naive
reference implementation of MTH / PATH / PROOF, and property tests of the verifiers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryLeafHashes,
    ProofError,
    SubtreeCache,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_consistency_proof,
    subtree_inclusion_proof,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from tocsin.errors import InvalidRequest

# The eight leaves of the RFC 6962 test tree used by the Certificate Transparency and
# transparency-dev test suites, and the tree heads of their first 1…8 leaves.
RFC_LEAVES = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes(range(0x60, 0x70))
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def leaves_of(count: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}/{i}".encode()) for i in range(count)]


# -- a naive reference, written straight from RFC 6962 §2.1 ----------------------------


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = ref_split(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = ref_split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], known: bool) -> list[bytes]:
    if m == len(d):
        return [] if known else [ref_mth(d)]
    k = ref_split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], known), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# -- hashing and roots -----------------------------------------------------------------


def test_hashes_have_rfc6962_domain_separation() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


def test_roots_of_the_rfc6962_test_tree() -> None:
    hashes = [leaf_hash(leaf) for leaf in RFC_LEAVES]
    for size in range(1, 9):
        assert root(hashes[:size]).hex() == RFC_ROOTS[size - 1]
    assert root([]) == EMPTY_ROOT


def test_root_matches_the_recursive_definition() -> None:
    hashes = leaves_of(130)
    for size in range(131):
        assert root(hashes[:size]) == ref_mth(hashes[:size])


# -- the frontier ----------------------------------------------------------------------


def test_compact_range_gives_every_root_and_round_trips_its_state() -> None:
    hashes = leaves_of(300)
    frontier = CompactRange()
    assert frontier.root() == EMPTY_ROOT
    for size, value in enumerate(hashes, 1):
        frontier.append(value)
        assert frontier.size == size
        assert len(frontier.hashes) == size.bit_count()
        assert frontier.root() == root(hashes[:size])
        restored = CompactRange.from_state(frontier.size, frontier.hashes)
        assert restored == frontier
        assert restored.root() == frontier.root()


def test_a_restored_frontier_keeps_growing_like_the_original() -> None:
    hashes = leaves_of(77)
    frontier = CompactRange.from_leaves(hashes[:40])
    restored = CompactRange.from_state(40, list(frontier.hashes))
    restored.extend(hashes[40:])
    assert restored.root() == root(hashes)
    copy = restored.copy()
    copy.append(hashes[0])
    assert restored.size == 77 and copy.size == 78


@pytest.mark.parametrize(
    ("size", "count", "length"),
    [(5, 1, 32), (5, 3, 32), (4, 1, 31), (-1, 0, 32)],
)
def test_frontier_state_that_does_not_fit_is_refused(size: int, count: int, length: int) -> None:
    with pytest.raises(ValueError):
        CompactRange.from_state(size, [b"x" * length] * count)


def test_frontier_refuses_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError):
        CompactRange().append(b"short")


# -- proof generation ------------------------------------------------------------------


def test_proofs_equal_the_rfc6962_definitions() -> None:
    hashes = leaves_of(40)
    store = MemoryLeafHashes(hashes)
    cache = SubtreeCache(min_height=1)
    for n in range(1, 41):
        assert tree_root(store, n) == tree_root(store, n, cache=cache) == ref_mth(hashes[:n])
        for m in range(n):
            want = ref_path(m, hashes[:n])
            assert inclusion_proof(store, m, n) == want
            assert inclusion_proof(store, m, n, cache=cache) == want
        for m in range(1, n):
            want = ref_subproof(m, hashes[:n], True)
            assert consistency_proof(store, m, n) == want
            assert consistency_proof(store, m, n, cache=cache) == want
        assert consistency_proof(store, n, n) == []
    assert len(cache) > 0


def test_rfc6962_example_proofs() -> None:
    # RFC 6962 §2.1.3: the 7-leaf tree; PATH(0) = [b, h, l], PROOF(4) = [l], PROOF(6) = [i, j, k].
    d = leaves_of(7)
    store = MemoryLeafHashes(d)
    b, h, top = d[1], node_hash(d[2], d[3]), node_hash(node_hash(d[4], d[5]), d[6])
    assert inclusion_proof(store, 0, 7) == [b, h, top]
    assert consistency_proof(store, 4, 7) == [top]
    i, j, k = node_hash(d[4], d[5]), d[6], node_hash(node_hash(d[0], d[1]), h)
    assert consistency_proof(store, 6, 7) == [i, j, k]


def test_the_cache_is_bounded() -> None:
    store = MemoryLeafHashes(leaves_of(256))
    cache = SubtreeCache(min_height=2, max_entries=5)
    for index in range(256):
        inclusion_proof(store, index, 256, cache=cache)
    assert len(cache) == 5
    assert inclusion_proof(store, 3, 256, cache=cache) == inclusion_proof(store, 3, 256)


@pytest.mark.parametrize(
    ("index", "size"),
    [(0, 0), (5, 5), (-1, 3), (0, 11)],
)
def test_inclusion_proof_arguments_outside_the_log_are_refused(index: int, size: int) -> None:
    with pytest.raises(InvalidRequest):
        inclusion_proof(MemoryLeafHashes(leaves_of(10)), index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 5), (6, 5), (3, 11), (-1, 4)])
def test_consistency_proof_arguments_outside_the_log_are_refused(old: int, new: int) -> None:
    with pytest.raises(InvalidRequest):
        consistency_proof(MemoryLeafHashes(leaves_of(10)), old, new)


def test_subtree_proof_arguments_must_name_a_subtree() -> None:
    store = MemoryLeafHashes(leaves_of(16))
    with pytest.raises(InvalidRequest):
        subtree_inclusion_proof(store, 3, 2, 5)
    with pytest.raises(InvalidRequest):
        subtree_consistency_proof(store, 4, 8, 7)


# -- verification: error messages -------------------------------------------------------


def test_verification_failures_say_what_is_wrong() -> None:
    hashes = leaves_of(8)
    store = MemoryLeafHashes(hashes)
    head = root(hashes)
    proof = inclusion_proof(store, 5, 8)
    with pytest.raises(ProofError, match="outside a tree of 8"):
        verify_inclusion(hashes[5], 8, 8, proof, head)
    with pytest.raises(ProofError, match="holds 3 hashes, not 4"):
        verify_inclusion(hashes[5], 5, 8, [*proof, proof[0]], head)
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        verify_inclusion(hashes[5], 5, 8, [proof[0], proof[1][1:], proof[2]], head)
    with pytest.raises(ProofError, match="not in this tree"):
        verify_inclusion(hashes[4], 5, 8, proof, head)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, EMPTY_ROOT, head, [])
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(6, 8, head, head, consistency_proof(store, 6, 8))


# -- property tests --------------------------------------------------------------------


def flip(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    changed = bytearray(proof[position])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:position], bytes(changed), *proof[position + 1 :]]


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(1, 300))
    salt = draw(st.integers(0, 2**32))
    return leaves_of(size, salt), draw(st.integers(0, size - 1))


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.data())
def test_inclusion_proofs_verify_and_any_change_breaks_them(tree: tuple[list[bytes], int], data: st.DataObject) -> None:
    hashes, index = tree
    size = len(hashes)
    store = MemoryLeafHashes(hashes)
    head = root(hashes)
    proof = inclusion_proof(store, index, size)
    verify_inclusion(hashes[index], index, size, proof, head)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, flip(proof, position, bit), head)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index) if size > 1 else st.just(size))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], other, size, proof, head)
    # Another size, with that size's own root: a proof fits only the tree it was made for.
    # (With the *same* root a proof can pass at a size whose tree has the same shape along
    # the path, which is why a checkpoint signs size and root together.)
    other_size = data.draw(st.integers(index + 1, size + 20).filter(lambda s: s != size))
    other_hashes = hashes + leaves_of(20, salt=-1)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, other_size, proof, root(other_hashes[:other_size]))
    with pytest.raises(ProofError):
        verify_inclusion(flip([hashes[index]], 0, 7)[0], index, size, proof, head)


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(1, 300))
    salt = draw(st.integers(0, 2**32))
    return leaves_of(size, salt), draw(st.integers(1, size))


@settings(max_examples=150, deadline=None)
@given(tree_and_old_size(), st.data())
def test_consistency_proofs_verify_and_any_change_breaks_them(
    tree: tuple[list[bytes], int], data: st.DataObject
) -> None:
    hashes, old_size = tree
    size = len(hashes)
    store = MemoryLeafHashes(hashes)
    old_root, new_root = root(hashes[:old_size]), root(hashes)
    proof = consistency_proof(store, old_size, size)
    verify_consistency(old_size, size, old_root, new_root, proof)
    verify_subtree_consistency(0, old_size, size, proof, old_root, new_root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            verify_consistency(old_size, size, old_root, new_root, flip(proof, position, bit))
    with pytest.raises(ProofError):
        verify_consistency(old_size, size, flip([old_root], 0, 3)[0], new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old_size, size, old_root, flip([new_root], 0, 3)[0], proof)
    extended = hashes + leaves_of(20, salt=-1)
    other_old = data.draw(st.integers(1, size).filter(lambda s: s != old_size) if size > 1 else st.just(0))
    with pytest.raises(ProofError):
        verify_consistency(other_old, size, root(hashes[:other_old]), new_root, proof)
    other_new = data.draw(st.integers(old_size, size + 20).filter(lambda s: s != size))
    with pytest.raises(ProofError):
        verify_consistency(old_size, other_new, old_root, root(extended[:other_new]), proof)


@st.composite
def tree_and_subtree(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(st.integers(1, 300))
    height = draw(st.integers(0, (size - 1).bit_length()))
    start = draw(st.integers(0, (size - 1) >> height)) << height
    end = draw(st.integers(start + 1, min(start + (1 << height), size)))
    return leaves_of(size, draw(st.integers(0, 2**32))), start, end


@settings(max_examples=150, deadline=None)
@given(tree_and_subtree(), st.data())
def test_subtree_proofs_verify_and_a_flipped_bit_breaks_them(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    hashes, start, end = tree
    size = len(hashes)
    store = MemoryLeafHashes(hashes)
    sub_root = root(hashes[start:end])
    index = data.draw(st.integers(start, end - 1))
    proof = subtree_inclusion_proof(store, index, start, end)
    verify_subtree_inclusion(hashes[index], index, start, end, proof, sub_root)
    proof = subtree_consistency_proof(store, start, end, size)
    verify_subtree_consistency(start, end, size, proof, sub_root, root(hashes))
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, size, flip(proof, position, bit), sub_root, root(hashes))
