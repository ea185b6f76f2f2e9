"""Round 1: verify root, timestamp, snapshot and targets of one repository (GUN).

The fetcher gets the four top-level documents concurrently and calls :func:`verify_repository`
with the raw bytes as served (hashes are over those bytes). The chain checked, with one
reference instant for every expiry:

1. root.json trusted through the pinned keys (:mod:`kenner.tuf.rootchain`), not expired;
2. timestamp.json signed by a threshold of root's timestamp keys, not expired;
3. snapshot.json matching timestamp's ``meta.snapshot`` hashes (and length), signed by root's
   snapshot keys, not expired;
4. root.json matching snapshot's ``meta.root`` when snapshot lists it;
5. targets.json matching snapshot's ``meta.targets`` (required), signed by root's targets
   keys, not expired.

``length`` values are checked when present unless ``enforce_length=False``: TUF requires them,
but the synthetic Connaisseur Go sets carry stale lengths next to correct hashes (Go notary
compares hashes only). A length mismatch with a matching hash is not a forgery, so callers
that must accept such data may switch the length check off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from kenner.tuf.checks import require_meta_match, require_threshold
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.expiry import check_not_expired, require_aware
from kenner.tuf.keys import PublicKey
from kenner.tuf.metadata import (
    Delegation,
    FileMeta,
    TargetFile,
    malformed,
    parse_document,
    parse_meta,
    parse_targets,
)
from kenner.tuf.rootchain import establish_root

TOP_LEVEL_ROLES = ("root", "timestamp", "snapshot", "targets")
RELEASES_ROLE = "targets/releases"


@attrs.frozen
class VerifiedRepository:
    """The verified top-level trust data of one GUN (result of round 1).

    Attributes:
        gun: the repository name, ``host/path`` of the image.
        versions: verified version per top-level role.
        expires: the earliest expiry among the verified roles (a cache must not outlive it).
        targets: the targets signed directly by targets.json, by target name (tag).
        target_digests: the sha256 digests (hex) among ``targets``, for digest references.
        declared_delegations: the roles targets.json delegates to, in file order.
        snapshot_meta: snapshot.json's meta entries; a delegation is *published* when listed.
        enforce_length: whether ``length`` values were (and will be) checked.
    """

    gun: str
    versions: Mapping[str, int]
    expires: datetime
    targets: Mapping[str, TargetFile]
    target_digests: frozenset[str]
    declared_delegations: tuple[Delegation, ...]
    snapshot_meta: Mapping[str, FileMeta]
    enforce_length: bool

    def delegation(self, name: str) -> Delegation | None:
        """The declared delegation called ``name`` (``targets/...``), if any."""
        return next((d for d in self.declared_delegations if d.name == name), None)

    def is_published(self, name: str) -> bool:
        """Whether snapshot.json lists metadata for the role (notary publishes it then)."""
        return name in self.snapshot_meta

    def roles_needed(self, required: Sequence[str]) -> tuple[str, ...]:
        """Delegated roles to fetch in round 2 for the required delegations.

        With required delegations, the declared and published ones among them (the others are
        denied later without fetching). Without, ``targets/releases`` when it is declared and
        published (otherwise targets.json decides and nothing needs fetching).
        """
        candidates = tuple(required) if required else (RELEASES_ROLE,)
        return tuple(
            name
            for name in dict.fromkeys(candidates)
            if self.delegation(name) is not None and self.is_published(name)
        )


def verify_repository(
    gun: str,
    files: Mapping[str, bytes],
    pinned_keys: Sequence[PublicKey],
    now: datetime,
    rotation_roots: Mapping[int, bytes] | None = None,
    *,
    enforce_length: bool = True,
) -> VerifiedRepository:
    """Verify the top-level roles of ``gun`` from the served bytes.

    Args:
        gun: the repository name (used in messages and by the caller's rollback guard).
        files: raw bytes by role name (``root``, ``timestamp``, ``snapshot``, ``targets``);
            a role the server answered 404 for is left out.
        pinned_keys: the trusted root public keys (any one of them anchors trust).
        now: the timezone-aware reference instant for every expiry check.
        rotation_roots: versioned roots by version, after :class:`RootRotationNeeded`.
        enforce_length: check ``length`` values of meta entries (see module docstring).

    Raises:
        RootRotationNeeded: fetch ``<N>.root.json`` for N below ``current_version`` and retry.
        TrustError: any denial (``no_trust_data`` when root.json is absent).
        ValueError: ``now`` is naive or ``pinned_keys`` is empty (programming errors).
    """
    require_aware(now)
    if not pinned_keys:
        raise ValueError("at least one pinned root key is needed")
    if "root" not in files:
        raise TrustError(Reason.NO_TRUST_DATA, "root", f"no trust data for {gun}")
    for role in TOP_LEVEL_ROLES[1:]:
        if role not in files:
            raise TrustError(Reason.NO_TRUST_DATA, role, f"{role}.json of {gun} was not served")

    root = establish_root(files["root"], pinned_keys, rotation_roots)
    check_not_expired("root", root.document.expires, now)

    timestamp = parse_document("timestamp", files["timestamp"], "Timestamp")
    require_threshold(timestamp, root.keys, root.roles["timestamp"])
    check_not_expired("timestamp", timestamp.expires, now)
    snapshot_entry = parse_meta(timestamp).get("snapshot")
    if snapshot_entry is None:
        raise malformed("timestamp", "meta has no snapshot entry")

    require_meta_match(
        "snapshot", files["snapshot"], snapshot_entry, "timestamp", enforce_length=enforce_length
    )
    snapshot = parse_document("snapshot", files["snapshot"], "Snapshot")
    require_threshold(snapshot, root.keys, root.roles["snapshot"])
    check_not_expired("snapshot", snapshot.expires, now)
    snapshot_meta = parse_meta(snapshot)

    if "root" in snapshot_meta:
        require_meta_match(
            "root", files["root"], snapshot_meta["root"], "snapshot", enforce_length=enforce_length
        )
    if "targets" not in snapshot_meta:
        raise malformed("snapshot", "meta has no targets entry")
    require_meta_match(
        "targets",
        files["targets"],
        snapshot_meta["targets"],
        "snapshot",
        enforce_length=enforce_length,
    )
    targets = parse_targets("targets", files["targets"])
    require_threshold(targets.document, root.keys, root.roles["targets"])
    check_not_expired("targets", targets.document.expires, now)

    documents = (root.document, timestamp, snapshot, targets.document)
    return VerifiedRepository(
        gun=gun,
        versions={document.role: document.version for document in documents},
        expires=min(document.expires for document in documents),
        targets=targets.targets,
        target_digests=signed_digests(targets.targets),
        declared_delegations=targets.delegations,
        snapshot_meta=snapshot_meta,
        enforce_length=enforce_length,
    )


def signed_digests(targets: Mapping[str, TargetFile]) -> frozenset[str]:
    """The sha256 digests (hex) that ``targets`` sign: computed with the verification (a
    worker thread for big trust data), so that a digest reference is a set look-up."""
    return frozenset(entry.sha256 for entry in targets.values() if entry.sha256 is not None)
