"""OCI 1.1 referrer artifacts, and pushing them to a real registry as cosign v3 / notation do.

``referrer_manifest`` builds an artifact: an OCI image manifest with ``artifactType``, the
empty config (``{}``), one layer and a ``subject``. ``RegistryPusher.attach`` pushes its blobs
and manifest through the distribution API; when the registry does not answer the manifest
``PUT`` with ``OCI-Subject`` (no referrers API: Debian's docker-registry 2.8), it maintains the
referrers tag schema as the spec's "Pushing Manifests with Subject" asks: pull the index tagged
``<alg>-<hex>`` (a 404 starts an empty one), append the new descriptor unless listed, push it
back. docker-registry 2.8 stores such manifests byte-exactly (it ignores ``subject`` and
``artifactType``, and accepts a ``subject`` naming a manifest it does not hold).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST, digest_of
from kenner.oci.referrers import EMPTY_CONFIG, referrers_tag
from tests.support.referrers_front import index_entry

EMPTY = b"{}"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
NOTATION_TYPE = "application/vnd.cncf.notary.signature"


@attrs.frozen
class Artifact:
    """A referrer: its manifest bytes and digest, and the blobs it names."""

    manifest: bytes
    digest: str
    blobs: tuple[bytes, ...]


def referrer_manifest(
    subject: str,
    layer: bytes,
    *,
    artifact_type: str = BUNDLE_TYPE,
    layer_media_type: str | None = None,
    subject_size: int = 1,
    annotations: Mapping[str, str] | None = None,
    declared_layer_size: int | None = None,
) -> Artifact:
    """An artifact with one layer ``layer`` attached to the manifest ``subject``."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(EMPTY), "size": len(EMPTY)},
        "layers": [
            {
                "mediaType": layer_media_type or artifact_type,
                "digest": digest_of(layer),
                "size": len(layer) if declared_layer_size is None else declared_layer_size,
            }
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
    }
    if annotations:
        document["annotations"] = dict(annotations)
    manifest = json.dumps(document).encode()
    return Artifact(manifest, digest_of(manifest), (EMPTY, layer))


class RegistryPusher:
    """Pushes to the registry at ``base_url`` (``https://127.0.0.1:PORT``), trusting ``ca_pem``."""

    def __init__(self, base_url: str, ca_pem: str) -> None:
        self._base = base_url
        self._client = httpx.Client(
            verify=ssl.create_default_context(cadata=ca_pem), trust_env=False, timeout=10.0
        )

    def close(self) -> None:
        self._client.close()

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self._client.post(f"{self._base}/v2/{repository}/blobs/uploads/")
        _expect(started, 202)
        location = httpx.URL(self._base).join(started.headers["location"])
        done = self._client.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _expect(done, 201)
        return digest

    def push_manifest(
        self, repository: str, reference: str, data: bytes, media_type: str = OCI_MANIFEST
    ) -> httpx.Response:
        reply = self._client.put(
            f"{self._base}/v2/{repository}/manifests/{reference}",
            content=data,
            headers={"Content-Type": media_type},
        )
        _expect(reply, 201)
        return reply

    def push_image(self, repository: str, tag: str, content: bytes) -> tuple[str, int]:
        """An OCI image whose config is ``content`` (no layers), tagged; (digest, size)."""
        config = self.push_blob(repository, content)
        document = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": len(content),
            },
            "layers": [],
        }
        manifest = json.dumps(document).encode()
        self.push_manifest(repository, tag, manifest)
        return digest_of(manifest), len(manifest)

    def attach(self, repository: str, artifact: Artifact) -> bool:
        """Push ``artifact``; True when the registry took the subject (``OCI-Subject``), False
        when the referrers tag schema was updated instead."""
        for blob in artifact.blobs:
            self.push_blob(repository, blob)
        reply = self.push_manifest(repository, artifact.digest, artifact.manifest)
        if "oci-subject" in reply.headers:
            return True
        subject = json.loads(artifact.manifest)["subject"]["digest"]
        self._append_to_tag(repository, subject, index_entry(artifact.manifest))
        return False

    def _append_to_tag(self, repository: str, subject: str, entry: dict[str, Any]) -> None:
        tag = referrers_tag(subject)
        reply = self._client.get(
            f"{self._base}/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_INDEX}
        )
        if reply.status_code == 404:
            index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        else:
            _expect(reply, 200)
            index = reply.json()
        if all(listed["digest"] != entry["digest"] for listed in index["manifests"]):
            index["manifests"].append(entry)
        self.push_manifest(repository, tag, json.dumps(index).encode(), OCI_INDEX)


def _expect(reply: httpx.Response, status: int) -> None:
    if reply.status_code != status:
        raise AssertionError(
            f"{reply.request.method} {reply.request.url.path}: HTTP {reply.status_code}, "
            f"not {status}: {reply.text[:200]}"
        )
