"""Merkle inclusion proofs of RFC 6962 / RFC 9162 (s2.1.3.2), as Rekor and Tessera logs use.

Leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left || right)``. The proof
of leaf ``index`` in a tree of ``size`` is the audit path from the leaf to the root, bottom up;
its length must be exactly what the tree shape asks (a longer or shorter path is an error, not
an extension), and the computed root must equal the expected one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from kenner.sigstore.errors import BundleError

HASH_SIZE = 32


def leaf_hash(entry: bytes) -> bytes:
    """The hash of a log leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` proves leaf ``index`` (hash ``leaf``) of a ``size``-tree under.

    Raises:
        BundleError: the index is outside the tree, a hash is not 32 bytes, or the path has
            the wrong length for the tree.
    """
    if not 0 <= index < size:
        raise BundleError(f"the inclusion proof's index {index} is outside a tree of {size}")
    if any(len(node) != HASH_SIZE for node in path):
        raise BundleError("an inclusion proof hash is not 32 bytes")
    fn, sn, root = index, size - 1, leaf
    for node in path:
        if sn == 0:
            raise BundleError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            root = node_hash(node, root)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            root = node_hash(root, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise BundleError("the inclusion proof is shorter than the tree is deep")
    return root


def verify_inclusion(
    index: int, size: int, entry: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Check that ``entry`` is leaf ``index`` of the ``size``-tree with root hash ``root``.

    Raises:
        BundleError: the proof does not lead to ``root``.
    """
    if root_from_proof(index, size, leaf_hash(entry), path) != root:
        raise BundleError("the inclusion proof does not lead to the checkpoint's root hash")
