"""Finding an image's OCI 1.1 referrers in its registry, and reading them by digest.

``list_referrers`` asks the referrers API (``GET /v2/<name>/referrers/<digest>``, filtered by
``artifactType``, pages followed by ``Link``); a 404 means the registry has no such API (the
spec forbids a 404 from one that has it), and the image index under the referrers tag schema
(``sha256-<hex>``) is read instead: its 404, or a tag holding no OCI index, means no referrers.
``fetch_referrer`` / ``fetch_manifest_by_digest`` / ``fetch_blob`` read what a list points at,
capped in size (declared sizes over the cap are refused before any request; reading stops at
the cap) and verified against the digest. The rules of the lists and manifests themselves
(bounds, ``Link`` targets, subject check) are ``kenner.oci.referrers``'s; docs/referrers.md.

Each request runs under ``fetch_s`` (``trio.TooSlowError`` past it), inside the caller's own
deadline. Failures: ``FetchError`` subclasses (``BadContent`` for an unusable list or a digest
mismatch, ``TooLarge`` for a cap) and, from ``fetch_referrer``, ``ReferrersError`` /
``ForeignSubject`` for a referrer manifest that is not one of the image's.
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

import attrs
import trio

from kenner.net.errors import NotFound, TooLarge
from kenner.net.registry import THREAD_MANIFEST_BYTES, BadContent, RegistryClient
from kenner.oci.manifest import OCI_INDEX
from kenner.oci.referrers import (
    LIST_MAX_BYTES,
    PAGES_MAX,
    REFERRER_MANIFEST_MAX_BYTES,
    REFERRERS_MAX,
    ArtifactDescriptor,
    ReferrerList,
    ReferrerManifest,
    ReferrerSelection,
    ReferrersError,
    next_page,
    parse_referrer_manifest,
    parse_referrers_index,
    referrers_path,
    referrers_tag,
)
from kenner.offload import in_worker_thread

log = logging.getLogger(__name__)

API = "referrers API"
TAG_SCHEMA = "referrers tag schema"


@attrs.frozen
class Discovery:
    """The referrers found, and which source answered (``API`` or ``TAG_SCHEMA``)."""

    source: str
    listing: ReferrerList


async def list_referrers(
    client: RegistryClient,
    repository: str,
    digest: str,
    *,
    artifact_type: str | None,
    fetch_s: float,
    limit: int = REFERRERS_MAX,
) -> Discovery:
    """The referrers of ``digest`` in ``repository`` of ``artifact_type`` (None: any), bounded.

    Raises:
        BadContent: a list, or its ``Link`` header, is unusable (``ReferrersError``'s reason).
        FetchError: a request failed (not the API's 404).
        trio.TooSlowError: a request took longer than ``fetch_s``.
    """
    path = referrers_path(repository, digest)
    query = f"?artifactType={url_quote(artifact_type, safe='')}" if artifact_type else ""
    selection = ReferrerSelection(artifact_type, limit)
    page: str | None = path + query
    read: set[str] = set()
    try:
        while page is not None and len(read) < PAGES_MAX and not selection.full:
            read.add(page)
            with trio.fail_after(fetch_s):
                result = await client.get(
                    page, repository=repository, max_bytes=LIST_MAX_BYTES, accept=OCI_INDEX
                )
            selection.add(await _entries(result.body, client.base + page))
            try:
                following = next_page(result.header("link"), client.base + page)
            except ReferrersError as error:
                raise BadContent(client.base + page, str(error)) from None
            page = None if following is None else _path_and_query(following)
            if page in read:
                raise BadContent(client.base + path, "the Link header leads back to a read page")
    except NotFound:
        if read != {path + query}:  # a later page vanished: not the "no API" answer
            raise
        return await _from_tag(client, repository, digest, artifact_type, fetch_s, limit)
    discovery = Discovery(API, selection.result(unread=page is not None))
    _log_leftovers(repository, digest, discovery)
    return discovery


async def _from_tag(
    client: RegistryClient,
    repository: str,
    digest: str,
    artifact_type: str | None,
    fetch_s: float,
    limit: int,
) -> Discovery:
    selection = ReferrerSelection(artifact_type, limit)
    try:
        with trio.fail_after(fetch_s):
            _, result = await client.manifest_bytes(
                repository, referrers_tag(digest), max_bytes=LIST_MAX_BYTES
            )
    except NotFound:
        return Discovery(TAG_SCHEMA, selection.result())
    if _media_type(result.header("content-type")) not in (OCI_INDEX, None):
        # The spec: a tag schema answer that is no image index means no referrers.
        return Discovery(TAG_SCHEMA, selection.result())
    selection.add(await _entries(result.body, result.url))
    discovery = Discovery(TAG_SCHEMA, selection.result())
    _log_leftovers(repository, digest, discovery)
    return discovery


async def fetch_manifest_by_digest(
    client: RegistryClient, repository: str, digest: str, *, max_bytes: int, fetch_s: float
) -> bytes:
    """The manifest ``digest`` of ``repository``: at most ``max_bytes``, hashing to ``digest``.

    Raises:
        NotFound: the registry has no such manifest.
        TooLarge: it exceeds ``max_bytes`` (reading stopped there).
        BadContent: it does not hash to ``digest``.
        FetchError: any other failure.
        trio.TooSlowError: the request took longer than ``fetch_s``.
    """
    with trio.fail_after(fetch_s):
        _, result = await client.manifest_bytes(repository, digest, max_bytes=max_bytes)
    return result.body


async def fetch_blob(
    client: RegistryClient,
    repository: str,
    descriptor: ArtifactDescriptor,
    *,
    max_bytes: int,
    fetch_s: float,
) -> bytes:
    """The blob ``descriptor`` names: its declared size at most ``max_bytes``, hashing to its
    digest; no more is read than it declares.

    Raises:
        TooLarge: it declares more than ``max_bytes`` (nothing is fetched) or is longer than
            it declares.
        NotFound: the registry has no such blob.
        BadContent: it does not hash to its digest.
        FetchError: any other failure.
        trio.TooSlowError: the request took longer than ``fetch_s``.
    """
    url = f"{client.base}/v2/{repository}/blobs/{descriptor.digest}"
    if descriptor.size > max_bytes:
        raise TooLarge(url, f"it declares {descriptor.size} bytes, over the {max_bytes}-byte cap")
    with trio.fail_after(fetch_s):
        return await client.blob(repository, descriptor.digest, max_bytes=descriptor.size)


async def fetch_referrer(
    client: RegistryClient,
    repository: str,
    entry: ArtifactDescriptor,
    *,
    subject: str,
    artifact_type: str | None,
    layer_max_bytes: int,
    fetch_s: float,
) -> ReferrerManifest:
    """The manifest of a listed referrer, fetched by digest and checked to refer to ``subject``.

    Raises:
        ForeignSubject: its subject is another manifest.
        ReferrersError: it is not an OCI image manifest of ``artifact_type`` with acceptable
            layers (see ``parse_referrer_manifest``).
        TooLarge: it declares or has more than ``REFERRER_MANIFEST_MAX_BYTES``.
        FetchError: as ``fetch_manifest_by_digest`` raises it.
        trio.TooSlowError: the request took longer than ``fetch_s``.
    """
    if entry.size > REFERRER_MANIFEST_MAX_BYTES:
        url = f"{client.base}/v2/{repository}/manifests/{entry.digest}"
        raise TooLarge(
            url,
            f"it declares {entry.size} bytes, over the {REFERRER_MANIFEST_MAX_BYTES}-byte cap",
        )
    data = await fetch_manifest_by_digest(
        client,
        repository,
        entry.digest,
        max_bytes=REFERRER_MANIFEST_MAX_BYTES,
        fetch_s=fetch_s,
    )
    return parse_referrer_manifest(
        data, subject=subject, artifact_type=artifact_type, layer_max_bytes=layer_max_bytes
    )


async def _entries(body: bytes, url: str) -> tuple[ArtifactDescriptor, ...]:
    try:
        if len(body) > THREAD_MANIFEST_BYTES:
            return await in_worker_thread(partial(parse_referrers_index, body))
        return parse_referrers_index(body)
    except ReferrersError as error:
        raise BadContent(url, str(error)) from None


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)  # next_page checked that it is on the registry's origin
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _media_type(content_type: str | None) -> str | None:
    return (content_type or "").split(";", 1)[0].strip().lower() or None


def _log_leftovers(repository: str, digest: str, discovery: Discovery) -> None:
    listing = discovery.listing
    if listing.over_limit or listing.unread:
        log.warning(
            "referrers of %s@%s beyond the bound were not read (%s): %s",
            repository,
            digest,
            discovery.source,
            listing.summary(),
            extra={"fields": {"repository": repository, "digest": digest}},
        )
