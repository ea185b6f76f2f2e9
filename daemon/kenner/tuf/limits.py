"""Recommended download caps per role, for the fetcher (verification itself reads no I/O).

Real Docker Content Trust documents are a few KiB (root ~2.4 KiB with its certificate,
timestamp ~0.5 KiB); targets grow by ~120 bytes per signed tag. The caps leave room for
thousands of tags and several root keys while bounding what a hostile server can make kenner
buffer. A response larger than its cap should be refused before verification.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

MAX_ROOT_BYTES = 512 * KIB
MAX_TIMESTAMP_BYTES = 64 * KIB
MAX_SNAPSHOT_BYTES = 2 * MIB
MAX_TARGETS_BYTES = 8 * MIB
MAX_DELEGATION_BYTES = 8 * MIB


def max_bytes(role: str) -> int:
    """The cap for a role: ``root`` (also every ``<N>.root.json``), ``timestamp``,
    ``snapshot``, ``targets`` or a delegated ``targets/<name>``."""
    if role == "root":
        return MAX_ROOT_BYTES
    if role == "timestamp":
        return MAX_TIMESTAMP_BYTES
    if role == "snapshot":
        return MAX_SNAPSHOT_BYTES
    if role == "targets":
        return MAX_TARGETS_BYTES
    return MAX_DELEGATION_BYTES
