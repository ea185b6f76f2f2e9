"""Push images with skopeo and read back what the registry serves.

distribution 2.8 negotiates content: without the right ``Accept`` header it converts schema 2 to
schema 1 (another digest), answers a manifest list with its amd64 manifest and 404s OCI types.
The signed digest must be that of the bytes served for :data:`oci.MANIFEST_ACCEPT`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import attrs

from tests.harness import commands, oci, web
from tests.harness.errors import HarnessError

#: skopeo ``--format``: Docker schema 2 (what ``docker push`` makes) or OCI as built.
PushFormat = Literal["v2s2", "oci"]


@attrs.frozen
class Platform:
    platform: str  # "linux/amd64"
    digest: str


@attrs.frozen
class Served:
    """A manifest as the registry serves it: what content trust signs."""

    digest: str
    size: int
    media_type: str
    platforms: tuple[Platform, ...] = ()


@attrs.frozen
class Registry:
    host: str  # 127.0.0.1:PORT
    ca_cert: Path
    cert_dir: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def push(
        self, layout: oci.ImageLayout, name: str, repo: str, tag: str, fmt: PushFormat
    ) -> Served:
        """Copy layout image ``name`` to ``repo:tag`` (all platforms of an index)."""
        command = [
            "skopeo",
            "--insecure-policy",  # no /etc/containers/policy.json needed; we push our own bytes
            "copy",
            "--quiet",
            "--all",
            "--dest-cert-dir",
            str(self.cert_dir),
            "--format",
            fmt,
            layout.reference(name),
            f"docker://{self.host}/{repo}:{tag}",
        ]
        commands.run(command, self.log_file)
        return self.resolve(repo, tag)

    def resolve(self, repo: str, reference: str) -> Served:
        """GET the manifest for a tag or digest with every manifest type accepted."""
        url = f"{self.url}/v2/{repo}/manifests/{reference}"
        reply = web.get(url, self.ca_cert, accept=oci.MANIFEST_ACCEPT)
        if reply.status != 200:
            raise HarnessError(f"registry GET {url} answered {reply.status}: {reply.body[:200]!r}")
        digest = oci.sha256_digest(reply.body)
        header = reply.headers.get("docker-content-digest")
        if header != digest:
            raise HarnessError(
                f"{url}: Docker-Content-Digest {header} is not sha256(body) {digest}"
            )
        media_type = reply.headers.get("content-type", "").split(";")[0]
        platforms: tuple[Platform, ...] = ()
        if media_type in (oci.DOCKER_LIST, oci.OCI_INDEX):
            platforms = tuple(
                Platform(f"{m['platform']['os']}/{m['platform']['architecture']}", m["digest"])
                for m in json.loads(reply.body)["manifests"]
            )
        return Served(digest, len(reply.body), media_type, platforms)
