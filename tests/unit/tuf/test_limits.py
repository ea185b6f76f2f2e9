"""Recommended download caps for the fetcher."""

from __future__ import annotations

from kenner.tuf import limits


def test_recommended_size_caps_cover_every_role() -> None:
    caps = {
        role: limits.max_bytes(role)
        for role in ("root", "timestamp", "snapshot", "targets", "targets/releases")
    }
    assert caps == {
        "root": limits.MAX_ROOT_BYTES,
        "timestamp": limits.MAX_TIMESTAMP_BYTES,
        "snapshot": limits.MAX_SNAPSHOT_BYTES,
        "targets": limits.MAX_TARGETS_BYTES,
        "targets/releases": limits.MAX_DELEGATION_BYTES,
    }
    assert limits.MAX_TIMESTAMP_BYTES < limits.MAX_ROOT_BYTES < limits.MAX_TARGETS_BYTES
