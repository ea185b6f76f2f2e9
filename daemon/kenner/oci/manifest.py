"""Manifests and indexes as registries serve them, parsed from bytes, and content digests.

A manifest's identity is the digest of the exact bytes served: nothing here re-serialises a
document. Parsing is strict about the fields kenner relies on (media types, descriptors) and
ignores everything else, as the OCI image spec requires of consumers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from kenner.errors import KennerError
from kenner.quoting import quote

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
#: ``Accept`` for manifest GETs. Without every type, a registry converts schema 2 to schema 1
#: (another digest), answers a list with one platform's manifest, or 404s OCI types.
MANIFEST_ACCEPT = ", ".join(MANIFEST_TYPES)

_HASHES = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST = re.compile(r"(sha256|sha384|sha512):([a-f0-9]+)")


class ManifestError(KennerError, ValueError):
    """A manifest or index cannot be used; the message says which field and why."""


class DigestMismatch(KennerError, ValueError):
    """Content does not hash to the digest it was fetched or announced by."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: content hashes to {actual}, not {expected}")


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """``algorithm:<hex>`` of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def check_digest_syntax(digest: str) -> str:
    """``digest`` if it is ``sha256|sha384|sha512:<lower hex of the right length>``.

    Raises:
        ManifestError: it is not.
    """
    match = _DIGEST.fullmatch(digest)
    if match is None or len(match.group(2)) != _HASHES[match.group(1)]:
        raise ManifestError(f"{quote(digest)} is not a sha256/sha384/sha512 digest")
    return digest


def verify_digest(data: bytes, expected: str, what: str) -> None:
    """Check that ``data`` hashes to ``expected`` (its algorithm taken from the digest).

    Raises:
        ManifestError: ``expected`` is not a supported digest.
        DigestMismatch: the content hashes to something else.
    """
    algorithm = check_digest_syntax(expected).split(":", 1)[0]
    actual = digest_of(data, algorithm)
    if actual != expected:
        raise DigestMismatch(what, expected, actual)


def signature_tag(digest: str) -> str:
    """Cosign's signature tag for a manifest digest: ``sha256:<hex>`` -> ``sha256-<hex>.sig``."""
    return check_digest_syntax(digest).replace(":", "-", 1) + ".sig"


@attrs.frozen
class Platform:
    """The platform of an index entry (``os``/``architecture``[/``variant``])."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = (self.os, self.architecture, self.variant)
        return "/".join(part for part in parts if part)


@attrs.frozen
class Descriptor:
    """A reference to content by digest, as manifests and indexes list it."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    platform: Platform | None = None


@attrs.frozen
class ImageManifest:
    """A single-platform image manifest (Docker schema 2 or OCI)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@attrs.frozen
class ImageIndex:
    """A multi-platform index (Docker manifest list or OCI index)."""

    media_type: str
    manifests: tuple[Descriptor, ...]

    def contains(self, digest: str) -> bool:
        """Whether one of the index's entries is the manifest ``digest``."""
        return any(entry.digest == digest for entry in self.manifests)


Manifest = ImageManifest | ImageIndex


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse a manifest or index; its type comes from ``mediaType``, else ``content_type``.

    Raises:
        ManifestError: not JSON, not a supported type, or a required field is malformed.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ManifestError("the manifest is not JSON") from None
    if not isinstance(document, dict):
        raise ManifestError("the manifest is not a JSON object")
    if document.get("schemaVersion") != 2:
        raise ManifestError(f"schemaVersion is {quote(document.get('schemaVersion'))}, not 2")
    declared = document.get("mediaType")
    served = (content_type or "").split(";", 1)[0].strip().lower() or None
    media_type = declared if isinstance(declared, str) else served
    if media_type is None:
        # An OCI document may omit mediaType; its shape then says what it is.
        media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if media_type in INDEX_TYPES:
        entries = _list(document, "manifests")
        return ImageIndex(media_type, tuple(_descriptor(e, f"manifests[{i}]") for i, e in entries))
    if media_type in (DOCKER_MANIFEST, OCI_MANIFEST):
        config = _descriptor(document.get("config"), "config")
        layers = tuple(_descriptor(e, f"layers[{i}]") for i, e in _list(document, "layers"))
        return ImageManifest(media_type, config, layers)
    raise ManifestError(f"unsupported manifest media type {quote(media_type)}")


def _list(document: dict[str, Any], key: str) -> list[tuple[int, Any]]:
    value = document.get(key)
    if not isinstance(value, list):
        raise ManifestError(f"'{key}' is missing or not a list")
    return list(enumerate(value))


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestError(f"{where} is not an object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str):
        raise ManifestError(f"{where}.mediaType is missing or not a string")
    if not isinstance(digest, str):
        raise ManifestError(f"{where}.digest is missing or not a string")
    try:
        check_digest_syntax(digest)
    except ManifestError as error:
        raise ManifestError(f"{where}.digest: {error}") from None
    if type(size) is not int or size < 0:
        raise ManifestError(f"{where}.size is missing or not a non-negative integer")
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise ManifestError(f"{where}.annotations is not a string-to-string object")
    return Descriptor(media_type, digest, size, annotations, _platform(value.get("platform")))


def _platform(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_name, architecture = value.get("os"), value.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = value.get("variant")
    return Platform(os_name, architecture, variant if isinstance(variant, str) else None)
