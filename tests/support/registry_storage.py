"""Put manifests and blobs byte-exactly into a docker-registry's filesystem storage.

The registry serves what its storage holds; writing the storage layout directly (instead of
pushing) keeps bytes and digests exactly as given, and allows manifests whose referenced
layers are not available (Connaisseur's fixtures ship only the signature payloads). The
layout is distribution's ``filesystem`` driver: blobs by digest, and per repository links for
layers, manifest revisions and tags.
"""

from __future__ import annotations

from pathlib import Path

from kenner.oci.manifest import digest_of


class RegistryStorage:
    """The storage root of a running registry (``storage.filesystem.rootdirectory``)."""

    def __init__(self, root: Path) -> None:
        self._v2 = root / "docker" / "registry" / "v2"

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        hex_digest = digest.split(":", 1)[1]
        blob = self._v2 / "blobs" / "sha256" / hex_digest[:2] / hex_digest / "data"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        self._link(self._repo(repository) / "_layers" / "sha256" / hex_digest, digest)
        return digest

    def put_manifest(self, repository: str, data: bytes, tag: str | None = None) -> str:
        digest = self.put_blob(repository, data)
        hex_digest = digest.split(":", 1)[1]
        manifests = self._repo(repository) / "_manifests"
        self._link(manifests / "revisions" / "sha256" / hex_digest, digest)
        if tag is not None:
            self._link(manifests / "tags" / tag / "current", digest)
            self._link(manifests / "tags" / tag / "index" / "sha256" / hex_digest, digest)
        return digest

    def _repo(self, repository: str) -> Path:
        return self._v2 / "repositories" / repository

    @staticmethod
    def _link(folder: Path, digest: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "link").write_text(digest)
