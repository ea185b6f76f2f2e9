"""Finding an image's OCI 1.1 referrers in its registry, and reading them by digest.

``list_referrers`` asks the referrers API (``GET /v2/<name>/referrers/<digest>``, filtered by
``artifactType``, pages followed by ``Link``); a 404 means the registry has no such API (the
spec forbids a 404 from one that has it), and the image index under the referrers tag schema
(``sha256-<hex>``) is read instead: its 404, or a tag holding no OCI index, means no referrers.

Scheduling, so that a registry without the API costs no dependent round trip: while kenner
does not know whether a registry has the API, the API's first page and the tag are asked at
once. The API's answer decides: a list is the answer (the tag's, whatever it is, is dropped and
its request cancelled); any other failure than the first page's 404 is the failure (the tag's
list is never used where the API spoke); only its 404 lets the tag's answer (list, 404, or
failure) through. An ``ApiMemory`` remembers per registry origin, for ``API_MEMORY_TTL_S``,
that the API answered a list (later listings ask the API alone) or that it answered 404 while
the tag held an index (they ask the tag alone). Either way the same answer decides as without
it: a known API that answers 404 is followed by the tag, as before (a round trip more, until
the registry is learnt again); what the tag lists is checked exactly as before.

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
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

import attrs
import trio

from kenner.errors import KennerError
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
#: How long whether a registry has the referrers API is remembered (docs/referrers.md).
API_MEMORY_TTL_S = 15 * 60.0
#: Registries remembered at once; past this the oldest is forgotten (it is asked both again).
API_MEMORY_MAX = 256


@attrs.frozen
class Discovery:
    """The referrers found, and which source answered (``API`` or ``TAG_SCHEMA``)."""

    source: str
    listing: ReferrerList


class ApiMemory:
    """Whether a registry origin has the referrers API, as last learnt, each for ``ttl_s``
    (bounded; the oldest is forgotten first).

    Learnt from a listing: the API answered a list (it has the API), or it answered 404 while
    the referrers tag held an OCI index (it has none). A 404 beside no index is not learnt: a
    registry that has the API may still answer 404 for a repository that does not exist, and
    a Pod naming one must not switch the whole registry to the tag schema (whose 404 denies
    every image whose signatures only the API lists). Forgetting costs one request, never a
    round trip, so the bound and the expiry are cheap.
    """

    def __init__(
        self,
        *,
        ttl_s: float = API_MEMORY_TTL_S,
        max_entries: int = API_MEMORY_MAX,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    def has_api(self, origin: str) -> bool | None:
        """Whether ``origin`` has the API, as learnt less than ``ttl_s`` ago; None: unknown."""
        known = self._known.get(origin)
        if known is None:
            return None
        if known[1] <= self._clock():
            del self._known[origin]
            return None
        return known[0]

    def forget(self, origin: str) -> None:
        """Forget what was learnt of ``origin`` (its API answered otherwise than expected)."""
        self._known.pop(origin, None)

    def learn(self, origin: str, has_api: bool) -> None:
        """Remember for ``ttl_s`` from now whether ``origin`` has the API."""
        self._known.pop(origin, None)
        while len(self._known) >= self._max_entries:
            self._known.popitem(last=False)
        self._known[origin] = (has_api, self._clock() + self._ttl_s)


async def list_referrers(
    client: RegistryClient,
    repository: str,
    digest: str,
    *,
    artifact_type: str | None,
    fetch_s: float,
    limit: int = REFERRERS_MAX,
    memory: ApiMemory | None = None,
) -> Discovery:
    """The referrers of ``digest`` in ``repository`` of ``artifact_type`` (None: any), bounded:
    the API and the tag asked at once, or the one ``memory`` says the registry serves (see the
    module).

    Raises:
        BadContent: a list, or its ``Link`` header, is unusable (``ReferrersError``'s reason).
        FetchError: a request failed (not the API's first 404).
        trio.TooSlowError: a request took longer than ``fetch_s``.
    """
    from_api = partial(_from_api, client, repository, digest, artifact_type, fetch_s, limit)
    from_tag = partial(_from_tag, client, repository, digest, artifact_type, fetch_s, limit)
    known = None if memory is None else memory.has_api(client.base)
    if known is False:
        return (await from_tag()).discovery
    if known is True:
        api = await from_api()
        tag = None if api is not None else await from_tag()  # the API is gone: as before
    else:
        api, tag = await _api_beside_tag(from_api, from_tag)
    if api is not None:
        if memory is not None:
            memory.learn(client.base, True)
        return api
    assert tag is not None
    if memory is not None and tag.indexed:
        memory.learn(client.base, False)
    elif memory is not None:  # a 404 beside no index says nothing: both at once next time
        memory.forget(client.base)
    return tag.discovery


async def _api_beside_tag(
    from_api: Callable[[], Awaitable[Discovery | None]],
    from_tag: Callable[[], Awaitable[_TagAnswer]],
) -> tuple[Discovery | None, _TagAnswer | None]:
    """The API's list, or after its 404 the tag's answer, both asked at once: the API's
    failure is raised whatever the tag answered, the tag's only after the API's 404."""
    tag: list[_TagAnswer | KennerError | trio.TooSlowError] = []
    tag_scope = trio.CancelScope()

    async def read_tag() -> None:
        with tag_scope:
            try:
                tag.append(await from_tag())
            except (KennerError, trio.TooSlowError) as error:  # only used after the API's 404
                tag.append(error)

    api: Discovery | KennerError | trio.TooSlowError | None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_tag)
        try:
            api = await from_api()
        except (KennerError, trio.TooSlowError) as error:
            api = error  # raised below, outside the nursery (which would wrap it in a group)
        if api is not None:  # the API spoke: the tag's answer is not needed
            tag_scope.cancel()
    if isinstance(api, BaseException):
        raise api
    if api is not None:
        return api, None
    (answer,) = tag
    if isinstance(answer, BaseException):
        raise answer
    return None, answer


async def _from_api(
    client: RegistryClient,
    repository: str,
    digest: str,
    artifact_type: str | None,
    fetch_s: float,
    limit: int,
) -> Discovery | None:
    """The referrers API's list, or None when its first page is a 404 (no such API)."""
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
    except NotFound as error:
        if read != {path + query}:
            # A later page vanished: not the "no API" answer, and not "absent" either (a
            # NotFound would reach the validator as a list that does not exist).
            raise BadContent(error.url, "a later page of the referrers list answered 404") from None
        return None
    discovery = Discovery(API, selection.result(unread=page is not None))
    _log_leftovers(repository, digest, discovery)
    return discovery


@attrs.frozen
class _TagAnswer:
    discovery: Discovery
    indexed: bool  # the tag held an OCI index (a registry that uses the tag schema)


async def _from_tag(
    client: RegistryClient,
    repository: str,
    digest: str,
    artifact_type: str | None,
    fetch_s: float,
    limit: int,
) -> _TagAnswer:
    selection = ReferrerSelection(artifact_type, limit)
    try:
        with trio.fail_after(fetch_s):
            _, result = await client.manifest_bytes(
                repository, referrers_tag(digest), max_bytes=LIST_MAX_BYTES
            )
    except NotFound:
        return _TagAnswer(Discovery(TAG_SCHEMA, selection.result()), indexed=False)
    if _media_type(result.header("content-type")) not in (OCI_INDEX, None):
        # The spec: a tag schema answer that is no image index means no referrers.
        return _TagAnswer(Discovery(TAG_SCHEMA, selection.result()), indexed=False)
    selection.add(await _entries(result.body, result.url))
    discovery = Discovery(TAG_SCHEMA, selection.result())
    _log_leftovers(repository, digest, discovery)
    return _TagAnswer(discovery, indexed=True)


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
