"""Notary v1 / TUF trust-data verification, pure and sans-IO.

Bytes in, values out, typed :class:`TrustError` for every denial. The fetcher around it
(``kenner.net``) does the I/O in at most three rounds::

    keys = [parse_public_key_pem(pem) for pem in trust_root_pems]         # at config load
    files = {role: <bytes of role.json> for role in TOP_LEVEL_ROLES}       # round 1, concurrent;
                                                                           # leave out 404s
    try:
        repo = verify_repository(gun, files, keys, now)
    except RootRotationNeeded as need:                                     # only on rotation
        roots = {n: <bytes of n.root.json> for n in range(1, need.current_version)}
        repo = verify_repository(gun, files, keys, now, rotation_roots=roots)
    needed = repo.roles_needed(required)                                   # round 2, concurrent
    trusted = verify_delegations(repo, {r: <bytes or None on 404> for r in needed}, now)
    guard.observe(host, gun, trusted.versions)                             # RollbackGuard
    digest = choose_digest(trusted, tag, digest, required)                 # "sha256:<hex>"

Use one timezone-aware ``now`` for the whole decision, cap response sizes with
:mod:`kenner.tuf.limits`, and cache a decision no longer than ``trusted.expires``. The rules
are written out in ``docs/notaryv1.md``.
"""

from kenner.tuf.canonical import CanonicalJSONError, canonical_json, parse_json
from kenner.tuf.delegations import TrustedTargets, verify_delegations
from kenner.tuf.digest import choose_digest
from kenner.tuf.errors import Reason, RootRotationNeeded, TrustError
from kenner.tuf.keys import KeyFormatError, PublicKey, parse_public_key_pem
from kenner.tuf.metadata import Delegation, TargetFile
from kenner.tuf.repository import (
    RELEASES_ROLE,
    TOP_LEVEL_ROLES,
    VerifiedRepository,
    verify_repository,
)
from kenner.tuf.rollback import RollbackGuard

__all__ = [
    "RELEASES_ROLE",
    "TOP_LEVEL_ROLES",
    "CanonicalJSONError",
    "Delegation",
    "KeyFormatError",
    "PublicKey",
    "Reason",
    "RollbackGuard",
    "RootRotationNeeded",
    "TargetFile",
    "TrustError",
    "TrustedTargets",
    "VerifiedRepository",
    "canonical_json",
    "choose_digest",
    "parse_json",
    "parse_public_key_pem",
    "verify_delegations",
    "verify_repository",
]
