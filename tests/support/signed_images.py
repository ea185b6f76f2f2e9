"""Tiny images and their Cosign signatures, written byte-exactly into a registry's storage.

The registry serves them as if pushed (``tests.support.registry_storage``); signatures are made
with keys from ``tests.support.cosign_signing``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from kenner.oci.manifest import DOCKER_MANIFEST, OCI_INDEX, signature_tag
from tests.support.cosign_signing import (
    EMPTY_CONFIG,
    PrivateKey,
    SignedLayer,
    signature_manifest,
    signed_layer,
)
from tests.support.registry_storage import RegistryStorage


class OwnImages:
    """Images of one repository of the registry at ``host`` (``127.0.0.1:PORT``)."""

    def __init__(self, storage: RegistryStorage, host: str, repository: str) -> None:
        self.storage = storage
        self.host = host
        self.repository = repository

    def image(self, tag: str, content: bytes) -> str:
        """A Docker schema 2 image whose config is ``content``; returns its manifest digest."""
        config = self.storage.put_blob(self.repository, content)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(content),
                    "digest": config,
                },
                "layers": [],
            }
        ).encode()
        return self.storage.put_manifest(self.repository, manifest, tag)

    def index(self, tag: str, digests: Sequence[str]) -> str:
        """An OCI index of the (amd64, arm64) manifests ``digests``; returns its digest."""
        entries = [
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": d,
                "size": 1,
                "platform": {"os": "linux", "architecture": arch},
            }
            for d, arch in zip(digests, ("amd64", "arm64"), strict=False)
        ]
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.storage.put_manifest(self.repository, json.dumps(document).encode(), tag)

    def sign(self, digest: str, *signers: PrivateKey, tamper: bool = False) -> None:
        """Store the ``.sig`` manifest with one signature per signer (payloads tampered)."""
        layers: list[SignedLayer] = []
        for key in signers:
            layer = signed_layer(key, f"{self.host}/{self.repository}", digest)
            if tamper:
                layer = SignedLayer(layer.payload.replace(b"}", b" }", 1), layer.signature_b64)
            layers.append(layer)
        self.storage.put_blob(self.repository, EMPTY_CONFIG)
        for layer in layers:
            self.storage.put_blob(self.repository, layer.payload)
        self.storage.put_manifest(
            self.repository, signature_manifest(layers), signature_tag(digest)
        )

    def signed_image(self, tag: str, key: PrivateKey) -> str:
        """An image unique to this repository and tag, signed by ``key``; its digest."""
        digest = self.image(tag, json.dumps({"image": f"{self.repository}:{tag}"}).encode())
        self.sign(digest, key)
        return digest

    def ref(self, tag: str) -> str:
        return f"{self.host}/{self.repository}:{tag}"
