"""Round 2: verify the delegated roles (``targets/<name>``) a decision needs.

A delegated role is *published* when snapshot.json lists it; snapshot is the signed statement
of what exists, so the server's answer cannot add or hide a role:

* listed and served: hash (and length) against snapshot, signed by a threshold of the keys
  targets.json gives the role, not expired;
* listed but not served (404): ``no_trust_data``, the server withholds signed data;
* not listed: unpublished, whatever the server answers (the bytes are not trusted).

Targets a role signs outside its delegated ``paths`` (name prefixes, ``""`` = all) or
``path_hash_prefixes`` are dropped, as TUF requires. Nested delegations (roles delegated by a
delegated role) are not followed: Docker Content Trust does not create them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

import attrs

from kenner.tuf.checks import require_meta_match, require_threshold
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.expiry import check_not_expired, require_aware
from kenner.tuf.metadata import Delegation, TargetFile, parse_targets
from kenner.tuf.repository import VerifiedRepository, signed_digests


@attrs.frozen
class TrustedTargets:
    """Every verified signed target of one GUN, per role.

    Attributes:
        gun: the repository name.
        top_level: targets signed by targets.json itself.
        delegated: targets per verified, published delegated role (within its paths).
        declared: names of all roles targets.json delegates to.
        versions: verified version per role, top-level and delegated (for rollback checks).
        expires: earliest expiry of all verified roles.
        digests: the signed sha256 digests (hex) per role (``targets`` and each delegated
            one), so that a digest reference is answered without a scan of every target:
            the answer comes from the cache on every admission of the image.
    """

    gun: str
    top_level: Mapping[str, TargetFile]
    delegated: Mapping[str, Mapping[str, TargetFile]]
    declared: frozenset[str]
    versions: Mapping[str, int]
    expires: datetime
    digests: Mapping[str, frozenset[str]]


def verify_delegations(
    repo: VerifiedRepository, files: Mapping[str, bytes | None], now: datetime
) -> TrustedTargets:
    """Verify the fetched delegated roles on top of a verified repository.

    Args:
        repo: the result of round 1.
        files: raw bytes per role name (``targets/releases`` ...), None where the server
            answered 404; normally exactly ``repo.roles_needed(required)``.
        now: the timezone-aware reference instant (the same as in round 1).

    Raises:
        TrustError: ``delegation_not_signed`` (role not declared), ``no_trust_data``,
            ``hash_mismatch``, ``length_mismatch``, ``bad_signature``, ``threshold_not_met``,
            ``expired``, ``malformed``.
    """
    require_aware(now)
    delegated: dict[str, Mapping[str, TargetFile]] = {}
    versions = dict(repo.versions)
    expires = repo.expires
    for name, raw in files.items():
        delegation = repo.delegation(name)
        if delegation is None:
            raise TrustError(
                Reason.DELEGATION_NOT_SIGNED,
                name,
                f"{name} is not a delegation declared in targets.json of {repo.gun}",
            )
        if not repo.is_published(name):
            continue
        if raw is None:
            raise TrustError(
                Reason.NO_TRUST_DATA,
                name,
                f"{name} is listed in snapshot.json of {repo.gun} but was not served",
            )
        require_meta_match(
            name, raw, repo.snapshot_meta[name], "snapshot", enforce_length=repo.enforce_length
        )
        metadata = parse_targets(name, raw)
        require_threshold(metadata.document, delegation.keys, delegation.role_keys)
        check_not_expired(name, metadata.document.expires, now)
        delegated[name] = {
            target: entry
            for target, entry in metadata.targets.items()
            if delegation_covers(delegation, target)
        }
        versions[name] = metadata.document.version
        expires = min(expires, metadata.document.expires)
    digests = {role: signed_digests(entries) for role, entries in delegated.items()}
    return TrustedTargets(
        gun=repo.gun,
        top_level=repo.targets,
        delegated=delegated,
        declared=frozenset(d.name for d in repo.declared_delegations),
        versions=versions,
        expires=expires,
        digests={"targets": repo.target_digests, **digests},
    )


def delegation_covers(delegation: Delegation, target: str) -> bool:
    """Whether ``delegation`` may sign the target called ``target`` (notary's prefix rule)."""
    if delegation.paths is not None and any(target.startswith(p) for p in delegation.paths):
        return True
    if delegation.path_hash_prefixes is not None:
        name_hash = hashlib.sha256(target.encode("utf-8")).hexdigest()
        return any(name_hash.startswith(p.lower()) for p in delegation.path_hash_prefixes)
    return False
