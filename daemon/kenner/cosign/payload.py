"""Cosign's simple-signing payload: what a signature actually says about an image.

The payload (a layer of the ``.sig`` manifest) is JSON::

    {"critical": {"identity": {"docker-reference": "<registry/repository>"},
                  "image": {"docker-manifest-digest": "sha256:<hex>"},
                  "type": "cosign container image signature"},
     "optional": null | {<annotations>}}

Only ``critical`` binds: the digest must be the image's, the type must be Cosign's, and the
reference is compared with the image's repository as the rule asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from kenner.cosign.errors import Failure, Rejected

COSIGN_TYPE = "cosign container image signature"
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"


@attrs.frozen
class SimpleSigning:
    """The parsed payload."""

    docker_reference: str
    manifest_digest: str
    optional: Mapping[str, Any] | None


def parse_payload(data: bytes) -> SimpleSigning:
    """Parse a simple-signing payload.

    Raises:
        Rejected: (``malformed_signature``) not the payload structure;
            (``wrong_payload_type``) ``critical.type`` is not Cosign's.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise Rejected(Failure.MALFORMED, "the payload is not JSON") from None
    critical = _object(document, "critical", "payload")
    kind = critical.get("type")
    if kind != COSIGN_TYPE:
        shown = repr(kind)[:200]  # the payload is the signer's text: quote a bounded part
        raise Rejected(Failure.WRONG_TYPE, f"critical.type is {shown}, not {COSIGN_TYPE!r}")
    reference = _object(critical, "identity", "critical").get("docker-reference")
    digest = _object(critical, "image", "critical").get("docker-manifest-digest")
    if not isinstance(reference, str):
        raise Rejected(Failure.MALFORMED, "critical.identity.docker-reference is not a string")
    if not isinstance(digest, str):
        raise Rejected(Failure.MALFORMED, "critical.image.docker-manifest-digest is not a string")
    optional = document.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise Rejected(Failure.MALFORMED, "optional is neither null nor an object")
    return SimpleSigning(reference, digest, optional)


def render_payload(docker_reference: str, manifest_digest: str) -> bytes:
    """The exact bytes ``cosign sign`` writes for an image without annotations.

    Cosign marshals a Go struct: fixed key order, compact, ``"optional":null``. When a
    signature layer's digest equals the digest of these bytes, the blob need not be fetched.
    """
    critical = {
        "identity": {"docker-reference": docker_reference},
        "image": {"docker-manifest-digest": manifest_digest},
        "type": COSIGN_TYPE,
    }
    document = {"critical": critical, "optional": None}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _object(document: Any, key: str, where: str) -> dict[str, Any]:
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, dict):
        raise Rejected(Failure.MALFORMED, f"{where}.{key} is missing or not an object")
    return value
