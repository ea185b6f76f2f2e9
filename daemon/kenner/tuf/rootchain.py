"""Establishing the current root.json from pinned root keys, following root rotation (TUF 5.3).

Trust is anchored in public keys pinned by the operator, not in key ids (notary's root key id
is the hash of a per-repository certificate). A root document is *directly trusted* when one of
its ``roles.root`` keys equals a pinned key, that key validly signs it, and a threshold of its
own root keys signs it. Signatures by keys the document does not authorise are ignored.

When the current root.json is not directly trusted, the chain of versioned roots is walked:
starting from the newest ``<N>.root.json`` (N below the current version) that is directly
trusted, every following version must be signed by a threshold of the previous version's root
keys and by a threshold of its own, up to the current root.json. Starting from the newest
directly trusted version is as safe as starting from the oldest (each is anchored in the pin)
and tolerates history the server no longer has. Only the current root's expiry matters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kenner.tuf.checks import require_threshold, valid_signers
from kenner.tuf.errors import Reason, RootRotationNeeded, TrustError
from kenner.tuf.keys import PublicKey
from kenner.tuf.metadata import RootMetadata, parse_root


def establish_root(
    current_raw: bytes,
    pinned_keys: Sequence[PublicKey],
    rotation_roots: Mapping[int, bytes] | None,
) -> RootMetadata:
    """Return the current root once it is trusted through the pins.

    Raises:
        RootRotationNeeded: the pins do not sign the current root (version > 1) and no
            ``rotation_roots`` were given.
        TrustError: ``root_key_mismatch`` (no pin reaches the current root), ``bad_signature``
            (a pinned key's signature on a version-1 root is invalid), ``threshold_not_met``,
            ``malformed``.
    """
    current = parse_root(current_raw)
    if _pinned_signs(current, pinned_keys):
        require_threshold(current.document, current.keys, current.roles["root"])
        return current
    version = current.document.version
    if rotation_roots is None and version > 1:
        raise RootRotationNeeded(version)
    if rotation_roots:
        return _walk_chain(current, pinned_keys, rotation_roots)
    raise _not_pinned(current, pinned_keys)


def _pinned_signs(root: RootMetadata, pinned_keys: Sequence[PublicKey]) -> bool:
    signers, _ = valid_signers(root.document, root.keys, root.roles["root"])
    return any(key in signers for key in pinned_keys)


def _not_pinned(root: RootMetadata, pinned_keys: Sequence[PublicKey]) -> TrustError:
    pinned_ids = {
        key_id
        for key_id in root.roles["root"].key_ids
        if key_id in root.keys and root.keys[key_id] in pinned_keys
    }
    if any(signature.key_id in pinned_ids for signature in root.document.signatures):
        return TrustError(
            Reason.BAD_SIGNATURE,
            "root",
            "root.json signature by the pinned root key does not verify",
        )
    listed = (
        "lists the pinned root key but is not signed by it"
        if pinned_ids
        else ("is not signed by the pinned root key")
    )
    return TrustError(
        Reason.ROOT_KEY_MISMATCH,
        "root",
        f"root.json version {root.document.version} {listed}, and no root rotation chain "
        "leads to it from a pinned key",
    )


def _walk_chain(
    current: RootMetadata, pinned_keys: Sequence[PublicKey], rotation_roots: Mapping[int, bytes]
) -> RootMetadata:
    target_version = current.document.version
    anchor = _newest_pinned_root(pinned_keys, rotation_roots, target_version)
    if anchor is None:
        raise _not_pinned(current, pinned_keys)
    previous = anchor
    for version in range(anchor.document.version + 1, target_version + 1):
        if version == target_version:
            following = current
        elif version in rotation_roots:
            following = _parse_versioned(version, rotation_roots[version])
        else:
            raise _broken(version, f"{version}.root.json is missing")
        try:
            require_threshold(
                following.document,
                previous.keys,
                previous.roles["root"],
                signed_by=f"the root keys of version {previous.document.version}",
            )
            require_threshold(following.document, following.keys, following.roles["root"])
        except TrustError as exc:
            raise _broken(version, exc.message) from exc
        previous = following
    return current


def _newest_pinned_root(
    pinned_keys: Sequence[PublicKey], rotation_roots: Mapping[int, bytes], below: int
) -> RootMetadata | None:
    for version in sorted((v for v in rotation_roots if 1 <= v < below), reverse=True):
        try:
            candidate = _parse_versioned(version, rotation_roots[version])
            if not _pinned_signs(candidate, pinned_keys):
                continue
            require_threshold(candidate.document, candidate.keys, candidate.roles["root"])
        except TrustError:
            # An unusable old root cannot anchor the chain; an older one still may.
            continue
        return candidate
    return None


def _parse_versioned(version: int, raw: bytes) -> RootMetadata:
    root = parse_root(raw)
    if root.document.version != version:
        raise _broken(version, f"{version}.root.json says version {root.document.version}")
    return root


def _broken(version: int, cause: str) -> TrustError:
    return TrustError(
        Reason.ROOT_KEY_MISMATCH,
        "root",
        f"root rotation chain broken at version {version}: {cause}",
    )
