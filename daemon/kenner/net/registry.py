"""Reading manifests and blobs from an OCI distribution (Docker Registry v2) API.

Everything read is checked against its digest before it is used: a manifest fetched by digest
must hash to it, a manifest fetched by tag gets the digest of the exact bytes served (and a
``Docker-Content-Digest`` header saying otherwise is an error), a blob must hash to its digest.
Manifest GETs send every manifest media type in ``Accept``: without them a registry converts
the manifest (another digest) or answers an index with one platform's manifest. Docker Hub
names are mapped to its API host (``kenner.oci.naming``). Deadlines belong to the caller. A
manifest over ``THREAD_MANIFEST_BYTES`` is hashed and parsed in a worker thread.
"""

from __future__ import annotations

from functools import partial

import attrs

from kenner.net.auth import AuthSession
from kenner.net.errors import FetchError
from kenner.net.http import FetchResult
from kenner.oci.manifest import (
    MANIFEST_ACCEPT,
    DigestMismatch,
    Manifest,
    ManifestError,
    digest_of,
    parse_manifest,
    verify_digest,
)
from kenner.oci.naming import api_base
from kenner.offload import in_worker_thread

#: distribution refuses to store manifests over 4 MiB, so nothing larger is a real one.
MANIFEST_MAX_BYTES = 4 * 1024 * 1024
# Hashing and parsing cost about 9 us per KiB (a 1.1 MB signature manifest: 12 ms): a bigger
# manifest is checked in a worker thread (``kenner.offload``), not on the event loop.
THREAD_MANIFEST_BYTES = 64 * 1024


class BadContent(FetchError):
    """The registry served something unusable: a digest mismatch or an invalid manifest."""


@attrs.frozen
class FetchedManifest:
    """A manifest as served, with the digest and the size of its bytes."""

    digest: str
    manifest: Manifest
    size: int | None = None  # bytes; a Notation signature's target descriptor names it


class RegistryClient:
    """Reads of one registry through an authenticating session."""

    def __init__(self, session: AuthSession, registry: str) -> None:
        self._session = session
        self._base = api_base(registry)

    async def manifest(self, repository: str, reference: str) -> FetchedManifest:
        """The manifest of ``repository`` at a tag or digest ``reference``.

        Raises:
            NotFound: the registry has no such manifest.
            BadContent: it does not hash to the requested or announced digest, or is invalid.
            FetchError: any other failure (see ``AuthSession.get``).
        """
        url = f"{self._base}/v2/{repository}/manifests/{reference}"
        result = await self._session.get(
            url,
            repository=repository,
            max_bytes=MANIFEST_MAX_BYTES,
            headers={"Accept": MANIFEST_ACCEPT},
        )
        check = partial(_checked_manifest, url, reference, result)
        if len(result.body) > THREAD_MANIFEST_BYTES:
            return await in_worker_thread(check)
        return check()

    async def manifest_bytes(
        self, repository: str, reference: str, *, max_bytes: int
    ) -> tuple[str, FetchResult]:
        """The digest and unparsed response of a manifest, checked as ``manifest`` checks it
        (for callers that parse fields ``parse_manifest`` drops, such as ``artifactType``).

        Raises:
            NotFound: the registry has no such manifest.
            TooLarge: it exceeds ``max_bytes``.
            BadContent: it does not hash to the requested or announced digest.
            FetchError: any other failure.
        """
        url = f"{self._base}/v2/{repository}/manifests/{reference}"
        result = await self._session.get(
            url, repository=repository, max_bytes=max_bytes, headers={"Accept": MANIFEST_ACCEPT}
        )
        try:
            return _served_digest(reference, result), result
        except (DigestMismatch, ManifestError) as error:
            raise BadContent(url, str(error)) from None

    async def get(self, path: str, *, repository: str, max_bytes: int, accept: str) -> FetchResult:
        """GET ``path`` (``/v2/...``, maybe with a query) of this registry's API.

        Raises:
            FetchError: as ``AuthSession.get`` raises it (``NotFound`` on 404).
        """
        url = f"{self._base}{path}"
        return await self._session.get(
            url, repository=repository, max_bytes=max_bytes, headers={"Accept": accept}
        )

    @property
    def base(self) -> str:
        """The registry API's base URL (``https://host[:port]``)."""
        return self._base

    async def blob(self, repository: str, digest: str, *, max_bytes: int) -> bytes:
        """The blob ``digest`` of ``repository``, verified against its digest.

        Raises:
            NotFound: the registry has no such blob.
            TooLarge: it exceeds ``max_bytes``.
            BadContent: it does not hash to ``digest``.
            FetchError: any other failure.
        """
        url = f"{self._base}/v2/{repository}/blobs/{digest}"
        result = await self._session.get(url, repository=repository, max_bytes=max_bytes)
        try:
            verify_digest(result.body, digest, f"blob {digest}")
        except (DigestMismatch, ManifestError) as error:
            raise BadContent(url, str(error)) from None
        return result.body


def _checked_manifest(url: str, reference: str, result: FetchResult) -> FetchedManifest:
    try:
        digest = _served_digest(reference, result)
        manifest = parse_manifest(result.body, result.header("content-type"))
        return FetchedManifest(digest, manifest, len(result.body))
    except (DigestMismatch, ManifestError) as error:
        raise BadContent(url, str(error)) from None


def _served_digest(reference: str, result: FetchResult) -> str:
    """The digest of a manifest fetched by ``reference``: the digest asked for, verified, or
    (by tag) the digest of the bytes, which an announced ``Docker-Content-Digest`` must match."""
    if ":" in reference:
        verify_digest(result.body, reference, f"manifest {reference}")
        return reference
    digest = digest_of(result.body)
    announced = result.header("docker-content-digest")
    if announced is not None and announced != digest:
        raise DigestMismatch(f"manifest {reference}", announced, digest)
    return digest
