"""RFC 6962 / RFC 9162 Merkle trees over audit records: hashes, frontier, proofs.

The one import point for the arithmetic of the audit log's tree, which lives in three
modules, one concept each:

- ``tree_hash``: the leaf and node hashes (SHA-256 with the 0x00 / 0x01
  domain-separation prefixes), the tree head ``root`` of a list of leaf hashes, and the
  ``CompactRange`` frontier a writer keeps to extend the tree in O(log n) time and memory;
- ``proofs``: inclusion and consistency proofs generated from any ``LeafHashes`` store;
- ``proof_verification``: their verification exactly as RFC 9162 §2.1.3.2 and §2.1.4.2
  describe (plus the subtree proofs of the Merkle Tree Certificates draft, which reduce
  to the same arithmetic).

It knows nothing of records, storage or signatures: the caller hashes its records into
leaves, persists the frontier, and signs roots (``checkpoint``). Nothing here has side
effects beyond reading the store it is given; only ``CompactRange`` and ``SubtreeCache``
hold state.
"""

from tocsin.audit.proof_verification import (
    ProofError,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from tocsin.audit.proofs import (
    LeafHashes,
    MemoryLeafHashes,
    SubtreeCache,
    consistency_proof,
    inclusion_proof,
    subtree_consistency_proof,
    subtree_inclusion_proof,
    tree_root,
)
from tocsin.audit.tree_hash import EMPTY_ROOT, HASH_SIZE, CompactRange, leaf_hash, node_hash, root

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
