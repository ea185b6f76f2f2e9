"""An in-memory registry (Docker Registry v2 reads) holding Cosign-signed images.

It answers manifest and blob GETs from dictionaries, as ``httpx.MockTransport``, so the cosign
validator can run on trio's virtual clock with every request counted. Images and signatures
are made with ``tests.support.cosign_signing`` in Cosign's format.
"""

from __future__ import annotations

import json
import re

import attrs
import httpx
import trio

from kenner.oci.manifest import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, digest_of, signature_tag
from tests.support.cosign_signing import EMPTY_CONFIG, PrivateKey, signature_manifest, signed_layer

_PATH = re.compile(r"/v2/(?P<repository>.+)/(?P<kind>manifests|blobs)/(?P<reference>[^/]+)")


@attrs.define
class FakeRegistry:
    """Manifests by (repository, tag or digest) and blobs by digest of registry ``host``.

    Attributes:
        statuses: request paths answered with this status instead of their content.
        delay_s: how long every answer takes (trio time).
        requests: the path of every request received, oldest first.
    """

    host: str
    manifests: dict[tuple[str, str], bytes] = attrs.Factory(dict)
    blobs: dict[str, bytes] = attrs.Factory(dict)
    statuses: dict[str, int] = attrs.Factory(dict)
    delay_s: float = 0.0
    requests: list[str] = attrs.Factory(list)

    def put_manifest(self, repository: str, data: bytes, tag: str | None = None) -> str:
        """Serve ``data`` by its digest (and by ``tag``); returns the digest."""
        digest = digest_of(data)
        self.manifests[(repository, digest)] = data
        if tag is not None:
            self.manifests[(repository, tag)] = data
        return digest

    def image(self, repository: str, tag: str) -> str:
        """A Docker schema 2 image unique to ``repository:tag``; returns its digest."""
        config = json.dumps({"image": f"{repository}:{tag}"}).encode()
        self.blobs[digest_of(config)] = config
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": digest_of(config),
            },
            "layers": [],
        }
        return self.put_manifest(repository, json.dumps(manifest).encode(), tag)

    def index(self, repository: str, tag: str, digests: list[str]) -> str:
        """An OCI index of the manifests ``digests``, tagged ``tag``; returns its digest."""
        entries = [
            {"mediaType": DOCKER_MANIFEST, "digest": d, "size": 1, "platform": {"os": "linux"}}
            for d in digests
        ]
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.put_manifest(repository, json.dumps(document).encode(), tag)

    def sign(self, repository: str, digest: str, *signers: PrivateKey) -> None:
        """Store the ``.sig`` manifest of ``digest`` with one signature per signer."""
        layers = [signed_layer(key, f"{self.host}/{repository}", digest) for key in signers]
        self.blobs[digest_of(EMPTY_CONFIG)] = EMPTY_CONFIG
        for layer in layers:
            self.blobs[digest_of(layer.payload)] = layer.payload
        self.put_manifest(repository, signature_manifest(layers), signature_tag(digest))

    def signed_image(self, repository: str, tag: str, key: PrivateKey) -> str:
        """An image signed by ``key``; returns its digest."""
        digest = self.image(repository, tag)
        self.sign(repository, digest, key)
        return digest

    def count(self, fragment: str) -> int:
        """How many requests had ``fragment`` in their path."""
        return sum(1 for path in self.requests if fragment in path)

    async def answer(self, path: str) -> httpx.Response:
        """The response the registry gives for a GET of ``path``."""
        self.requests.append(path)
        await trio.sleep(self.delay_s)
        status = self.statuses.get(path)
        if status is not None:
            return httpx.Response(status, json={"errors": [{"code": "SCRIPTED"}]})
        match = _PATH.fullmatch(path)
        if match is None:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        repository, reference = match["repository"], match["reference"]
        if match["kind"] == "blobs":
            blob = self.blobs.get(reference)
            if blob is None:
                return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN"}]})
            return httpx.Response(200, content=blob)
        manifest = self.manifests.get((repository, reference))
        if manifest is None:
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        media_type = json.loads(manifest).get("mediaType", OCI_MANIFEST)
        return httpx.Response(200, content=manifest, headers={"Content-Type": media_type})

    def mock_transport(self) -> httpx.MockTransport:
        """An in-memory httpx transport answering every request as this registry would."""

        async def handle(request: httpx.Request) -> httpx.Response:
            return await self.answer(request.url.path)

        return httpx.MockTransport(handle)
