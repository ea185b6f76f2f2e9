"""Tiny, distinct, deterministic container images written as an OCI image layout on disk.

Each image has one gzip tar layer holding ``/kenner-test/<name>.txt``; timestamps are fixed and
JSON is written canonically, so the same name always yields the same digests. skopeo reads the
layout (``oci:DIR:REF``) and pushes it, converting to Docker schema 2 where asked.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import attrs

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
#: Every manifest type the registry may serve; without it the registry converts or 404s.
MANIFEST_ACCEPT = ",".join((DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX))

_REF_NAME = "org.opencontainers.image.ref.name"
_CREATED = "2024-01-01T00:00:00Z"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@attrs.frozen
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class ImageLayout:
    """An OCI image layout directory; each added image is tagged in ``index.json`` by name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._blobs = directory / "blobs" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self._refs: dict[str, dict[str, Any]] = {}
        index = directory / "index.json"
        if index.exists():
            for entry in json.loads(index.read_text())["manifests"]:
                self._refs[entry["annotations"][_REF_NAME]] = entry

    def reference(self, name: str) -> str:
        """The skopeo source reference of a named image."""
        return f"oci:{self.directory}:{name}"

    def add_image(self, name: str, architecture: str = "amd64") -> Descriptor:
        """Write a single-platform image and tag it ``name`` in the layout."""
        descriptor = self._image(name, architecture)
        self._tag(name, descriptor)
        return descriptor

    def add_index(
        self, name: str, architectures: tuple[str, ...] = ("amd64", "arm64")
    ) -> Descriptor:
        """Write an OCI image index of one image per architecture and tag it ``name``."""
        manifests = []
        for architecture in architectures:
            entry = self._image(f"{name}-{architecture}", architecture).as_json()
            entry["platform"] = {"architecture": architecture, "os": "linux"}
            manifests.append(entry)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        descriptor = self._blob(OCI_INDEX, _canonical(index))
        self._tag(name, descriptor)
        return descriptor

    def _blob(self, media_type: str, data: bytes) -> Descriptor:
        digest = sha256_digest(data)
        (self._blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def _image(self, name: str, architecture: str) -> Descriptor:
        content = f"kenner test bed image {name!r} ({architecture})\n".encode()
        tar = _single_file_tar(f"kenner-test/{name}.txt", content)
        layer = self._blob("application/vnd.oci.image.layer.v1.tar+gzip", _gzip(tar))
        config = {
            "architecture": architecture,
            "os": "linux",
            "created": _CREATED,
            "config": {"Labels": {"dev.kenner.test.image": name}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
            "history": [{"created": _CREATED, "created_by": f"kenner tests/harness {name}"}],
        }
        config_blob = self._blob("application/vnd.oci.image.config.v1+json", _canonical(config))
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_blob.as_json(),
            "layers": [layer.as_json()],
        }
        return self._blob(OCI_MANIFEST, _canonical(manifest))

    def _tag(self, name: str, descriptor: Descriptor) -> None:
        self._refs[name] = {**descriptor.as_json(), "annotations": {_REF_NAME: name}}
        index = {"schemaVersion": 2, "manifests": list(self._refs.values())}
        (self.directory / "index.json").write_text(json.dumps(index, indent=1))


def _single_file_tar(path: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(path.split("/", 1)[0])
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(directory)
        member = tarfile.TarInfo(path)
        member.size, member.mode, member.mtime = len(content), 0o644, 0
        tar.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        compressed.write(data)
    return buffer.getvalue()
