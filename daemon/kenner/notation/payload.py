"""The signed payload: its target descriptor must be the image's manifest.

Rules: the payload is a JSON object ``{"targetArtifact": descriptor}`` (other members are
ignored); the descriptor's ``mediaType``, ``digest`` and ``size`` must equal those of the
manifest the image reference resolved to. A payload that does not parse fails the envelope's
integrity; a descriptor for another manifest is a digest mismatch.
"""

from __future__ import annotations

import json

import attrs

from kenner.notation.errors import Check, NotationError
from kenner.quoting import quote


@attrs.frozen
class Target:
    """The manifest the signature must be about."""

    media_type: str
    digest: str
    size: int


def check_target(payload: bytes, target: Target) -> None:
    """Check the payload's descriptor against ``target``.

    Raises:
        NotationError: ``tampered_envelope`` (no descriptor) or ``digest_mismatch``.
    """
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        raise NotationError(Check.INTEGRITY, "the signed payload is not JSON") from None
    descriptor = document.get("targetArtifact") if isinstance(document, dict) else None
    if not isinstance(descriptor, dict):
        raise NotationError(Check.INTEGRITY, "the signed payload has no targetArtifact object")
    signed = (descriptor.get("mediaType"), descriptor.get("digest"), descriptor.get("size"))
    if signed[1] != target.digest:
        raise NotationError(
            Check.TARGET,
            f"the signature is for {quote(signed[1])}, not for the manifest {target.digest}",
        )
    if signed[0] != target.media_type or type(signed[2]) is not int or signed[2] != target.size:
        raise NotationError(
            Check.TARGET,
            f"the signed descriptor's media type / size ({quote(signed[0])}, {quote(signed[2])}) "
            f"differ from the manifest's ({target.media_type}, {target.size})",
        )
