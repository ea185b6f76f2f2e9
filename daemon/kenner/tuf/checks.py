"""The two checks every role goes through: signature threshold and hash/length binding."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.keys import PublicKey, verify_signature
from kenner.tuf.metadata import FileMeta, RoleKeys, SignedDocument


def valid_signers(
    document: SignedDocument, keys: Mapping[str, PublicKey], role_keys: RoleKeys
) -> tuple[set[PublicKey], int]:
    """Distinct authorised keys with a valid signature, and the count of invalid ones.

    Signatures by key ids the role does not authorise are ignored (not an error). A key that
    signs twice, or that is listed under two ids, counts once: distinctness is by public key.
    """
    signers: set[PublicKey] = set()
    invalid = 0
    for signature in document.signatures:
        if signature.key_id not in role_keys.key_ids or signature.key_id not in keys:
            continue
        key = keys[signature.key_id]
        if verify_signature(key, signature.method, signature.value, document.canonical_signed):
            signers.add(key)
        else:
            invalid += 1
    return signers, invalid


def require_threshold(
    document: SignedDocument,
    keys: Mapping[str, PublicKey],
    role_keys: RoleKeys,
    signed_by: str = "",
) -> set[PublicKey]:
    """Raise unless a threshold of distinct authorised keys validly signed ``document``.

    ``signed_by`` qualifies the message when the keys come from another document (root
    rotation: "root.json version 3 by the keys of version 2").

    Raises:
        TrustError: ``bad_signature`` when an authorised key's signature failed and the
            threshold is missed, else ``threshold_not_met``.
    """
    signers, invalid = valid_signers(document, keys, role_keys)
    if len(signers) >= role_keys.threshold:
        return signers
    role = document.role
    by = f" by {signed_by}" if signed_by else ""
    if invalid:
        raise TrustError(
            Reason.BAD_SIGNATURE,
            role,
            f"{role} has {invalid} invalid signature(s){by}; {len(signers)} valid of "
            f"threshold {role_keys.threshold}",
        )
    raise TrustError(
        Reason.THRESHOLD_NOT_MET,
        role,
        f"{role} is signed{by} by {len(signers)} distinct authorised key(s), "
        f"threshold is {role_keys.threshold}",
    )


def require_meta_match(
    role: str, raw: bytes, meta: FileMeta, parent: str, *, enforce_length: bool
) -> None:
    """Check served bytes against the hashes (and length) the parent role recorded.

    Raises:
        TrustError: ``hash_mismatch`` or ``length_mismatch`` naming the role and its parent.
    """
    for algorithm, expected in meta.hashes.items():
        if hashlib.new(algorithm, raw).digest() != expected:
            raise TrustError(
                Reason.HASH_MISMATCH,
                role,
                f"{role} {algorithm} does not match the hash recorded in {parent}",
            )
    if enforce_length and meta.length is not None and meta.length != len(raw):
        raise TrustError(
            Reason.LENGTH_MISMATCH,
            role,
            f"{role} is {len(raw)} bytes, {parent} records {meta.length}",
        )
