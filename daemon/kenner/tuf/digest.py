"""The decision: which manifest digest the trust data signs for an image reference.

Roles consulted (the reference policy, Connaisseur's rule):

* required delegations given: exactly those; each must be declared and published, else
  ``delegation_not_signed``;
* none required: ``targets/releases`` when it is declared and published, else targets.json.

Then, for a tag: every consulted role must sign the tag when delegations are required (else
``delegation_not_signed``), at least one must (else ``tag_not_signed``), and they must agree on
one digest (else ``ambiguous_digest``). For a digest-only reference the digest must be the
sha256 of a target in every required role (``delegation_not_signed``) or in the consulted role
(``digest_not_signed``). For tag + digest the tag's signed digest must equal the given one.
The registry's view of a tag is never consulted: the pod gets pinned to the returned digest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kenner.tuf.delegations import TrustedTargets
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.metadata import TargetFile
from kenner.tuf.repository import RELEASES_ROLE

_SHA256_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


def choose_digest(
    targets: TrustedTargets, tag: str | None, digest: str | None, required: Sequence[str]
) -> str:
    """Return the signed digest (``sha256:<hex>``) for ``tag`` and/or ``digest``.

    Args:
        targets: the verified targets of the image's GUN.
        tag: the reference's tag, or None.
        digest: the reference's digest (``sha256:<hex>``), or None.
        required: required delegation role names (``targets/<name>``), may be empty.

    Raises:
        TrustError: ``tag_not_signed``, ``digest_not_signed``, ``delegation_not_signed``,
            ``ambiguous_digest`` or ``malformed`` (unparsable digest).
        ValueError: neither tag nor digest given.
    """
    if tag is None and digest is None:
        raise ValueError("an image reference has a tag, a digest or both")
    consulted = _consulted_roles(targets, required)
    role_names = ", ".join(consulted)
    wanted = _digest_hex(digest) if digest is not None else None
    if tag is None:
        assert wanted is not None
        return _signed_digest(targets, consulted, wanted, bool(required))
    found = {
        role: entries[tag].sha256
        for role, entries in consulted.items()
        if tag in entries and entries[tag].sha256 is not None
    }
    if required and len(found) < len(consulted):
        missing = ", ".join(role for role in consulted if role not in found)
        raise TrustError(
            Reason.DELEGATION_NOT_SIGNED,
            missing,
            f"tag {tag!r} of {targets.gun} is not signed by required delegation(s) {missing}",
        )
    if not found:
        raise TrustError(
            Reason.TAG_NOT_SIGNED, role_names, f"tag {tag!r} of {targets.gun} is not signed"
        )
    digests = sorted({value for value in found.values() if value is not None})
    if len(digests) > 1:
        raise TrustError(
            Reason.AMBIGUOUS_DIGEST,
            role_names,
            f"tag {tag!r} of {targets.gun} is signed with {len(digests)} different digests "
            f"by {role_names}",
        )
    signed = digests[0]
    if wanted is not None and wanted != signed:
        raise TrustError(
            Reason.DIGEST_NOT_SIGNED,
            role_names,
            f"tag {tag!r} of {targets.gun} is signed for sha256:{signed}, "
            f"not for the referenced sha256:{wanted}",
        )
    return f"sha256:{signed}"


def _consulted_roles(
    targets: TrustedTargets, required: Sequence[str]
) -> dict[str, Mapping[str, TargetFile]]:
    if not required:
        if RELEASES_ROLE in targets.delegated:
            return {RELEASES_ROLE: targets.delegated[RELEASES_ROLE]}
        return {"targets": targets.top_level}
    consulted: dict[str, Mapping[str, TargetFile]] = {}
    for role in required:
        if role not in targets.delegated:
            state = "is never published" if role in targets.declared else "is not declared"
            raise TrustError(
                Reason.DELEGATION_NOT_SIGNED,
                role,
                f"required delegation {role} of {targets.gun} {state}",
            )
        consulted[role] = targets.delegated[role]
    return consulted


def _signed_digest(
    targets: TrustedTargets,
    consulted: Mapping[str, Mapping[str, TargetFile]],
    wanted: str,
    strict: bool,
) -> str:
    gun = targets.gun
    signing = [role for role in consulted if wanted in targets.digests[role]]
    if strict and len(signing) < len(consulted):
        missing = ", ".join(role for role in consulted if role not in signing)
        raise TrustError(
            Reason.DELEGATION_NOT_SIGNED,
            missing,
            f"sha256:{wanted} of {gun} is not signed by required delegation(s) {missing}",
        )
    if not signing:
        raise TrustError(
            Reason.DIGEST_NOT_SIGNED,
            ", ".join(consulted),
            f"sha256:{wanted} of {gun} is not a signed target",
        )
    return f"sha256:{wanted}"


def _digest_hex(digest: str) -> str:
    match = _SHA256_DIGEST.fullmatch(digest)
    if match is None:
        if ":" in digest and not digest.startswith("sha256:"):
            raise TrustError(
                Reason.DIGEST_NOT_SIGNED,
                "targets",
                f"digest {digest!r}: Notary signs sha256 digests only",
            )
        raise TrustError(Reason.MALFORMED, "targets", f"digest {digest!r} is not sha256:<hex>")
    return match[1].lower()
