"""Referrer discovery (kenner.net.referrers) against a real HTTPS referrers front on 127.0.0.1.

The front (tests/support/referrers_front.py) serves its own manifests and blobs here; with
``api=False`` it answers the referrers API with 404, as Debian's docker-registry does, so the
referrers tag schema is read instead. The real registry: tests/integration/test_referrers.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from kenner.net.auth import AuthSession
from kenner.net.errors import FetchError, HttpStatusError, NotFound, TooLarge
from kenner.net.http import Fetcher
from kenner.net.referrers import (
    API,
    TAG_SCHEMA,
    ApiMemory,
    fetch_blob,
    fetch_manifest_by_digest,
    fetch_referrer,
    list_referrers,
)
from kenner.net.registry import BadContent, RegistryClient
from kenner.oci.manifest import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, digest_of
from kenner.oci.referrers import (
    PAGES_MAX,
    REFERRER_MANIFEST_MAX_BYTES,
    REFERRERS_MAX,
    ArtifactDescriptor,
    ForeignSubject,
    ReferrersError,
    referrers_path,
    referrers_tag,
)
from tests.loopback.servers import serve_https
from tests.support.referrers_front import ReferrersFront, index_entry
from tests.support.referrers_push import BUNDLE_TYPE, NOTATION_TYPE, Artifact, referrer_manifest
from tests.support.round_gate import RoundGate

REPO = "team/app"
IMAGE = "sha256:" + "a" * 64
OTHER_IMAGE = "sha256:" + "b" * 64
FETCH_S = 5.0
API_PATH = referrers_path(REPO, IMAGE)
TAG_GET = f"GET /v2/{REPO}/manifests/{referrers_tag(IMAGE)}"


@asynccontextmanager
async def _serving(front: ReferrersFront) -> AsyncIterator[RegistryClient]:
    async with serve_https(front) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        yield RegistryClient(AuthSession(fetcher), server.base_url.removeprefix("https://"))


def _attach(front: ReferrersFront, artifact: Artifact) -> ArtifactDescriptor:
    entry = front.attach(REPO, artifact.manifest)
    for blob in artifact.blobs:
        front.put_blob(blob)
    return ArtifactDescriptor(
        entry["mediaType"], entry["digest"], entry["size"], entry.get("artifactType")
    )


def _tag_lists(front: ReferrersFront, *entries: ArtifactDescriptor) -> None:
    """Serve the referrers tag of ``IMAGE`` as an index listing ``entries``."""
    listed = [index_entry(front.manifests[(REPO, entry.digest)]) for entry in entries]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed}
    front.put_manifest(REPO, json.dumps(index).encode(), referrers_tag(IMAGE))


def _flood(count: int, artifact_type: str = BUNDLE_TYPE) -> list[dict[str, Any]]:
    return [
        {"mediaType": OCI_MANIFEST, "digest": f"sha256:{n:064x}", "size": 9, "artifactType": t}
        for n, t in ((n, artifact_type) for n in range(count))
    ]


async def _list(client: RegistryClient, artifact_type: str | None = BUNDLE_TYPE, **kw: Any):
    return await list_referrers(
        client, REPO, IMAGE, artifact_type=artifact_type, fetch_s=FETCH_S, **kw
    )


# --- the referrers API ----------------------------------------------------------------------


async def test_the_api_lists_the_referrers_of_the_asked_type() -> None:
    front = ReferrersFront()
    bundles = [_attach(front, referrer_manifest(IMAGE, b"bundle %d" % n)) for n in range(2)]
    _attach(front, referrer_manifest(IMAGE, b"envelope", artifact_type=NOTATION_TYPE))
    _attach(front, referrer_manifest(OTHER_IMAGE, b"another image's"))
    async with _serving(front) as client:
        found = await _list(client)
    assert found.source == API
    assert [entry.digest for entry in found.listing.referrers] == [b.digest for b in bundles]
    assert found.listing.other_types == 0  # the front filtered
    # The tag was asked at the same time (in case the API is missing); the API's list won.
    assert sorted(front.requests) == [
        f"GET /v2/{REPO}/manifests/{referrers_tag(IMAGE)}",
        f"GET {referrers_path(REPO, IMAGE)}"
        "?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson",
    ]


async def test_an_unfiltered_answer_is_filtered_here() -> None:
    front = ReferrersFront(filtering=False)
    _attach(front, referrer_manifest(IMAGE, b"bundle"))
    _attach(front, referrer_manifest(IMAGE, b"envelope", artifact_type=NOTATION_TYPE))
    async with _serving(front) as client:
        found = await _list(client)
    assert len(found.listing.referrers) == 1
    assert found.listing.referrers[0].artifact_type == BUNDLE_TYPE
    assert found.listing.other_types == 1


async def test_pages_are_followed_by_link() -> None:
    front = ReferrersFront(page_size=2)
    front.referrers[(REPO, IMAGE)] = _flood(5)
    async with _serving(front) as client:
        found = await _list(client)
    assert len(found.listing.referrers) == 5
    assert not found.listing.unread
    pages = [request for request in front.requests if "/referrers/" in request]
    assert len(pages) == 3
    assert pages[2].endswith("&page=2")


async def test_a_link_to_another_host_is_refused_unfollowed() -> None:
    front = ReferrersFront(page_size=2, link=lambda target: f"https://127.0.0.2:1{target}")
    front.referrers[(REPO, IMAGE)] = _flood(5)
    async with _serving(front) as client:
        with pytest.raises(BadContent, match="another host"):
            await _list(client)
    assert front.count("referrers") == 1


async def test_a_link_back_to_a_read_page_is_refused() -> None:
    path = referrers_path(REPO, IMAGE)
    front = ReferrersFront(page_size=2, link=lambda target: f"{path}?page=0")
    front.referrers[(REPO, IMAGE)] = _flood(5)
    async with _serving(front) as client:
        with pytest.raises(BadContent, match="leads back"):
            await _list(client, artifact_type=None)
    assert front.count("referrers") == 2


async def test_thousands_of_referrers_are_read_to_the_bound_only() -> None:
    front = ReferrersFront(page_size=100)
    front.referrers[(REPO, IMAGE)] = _flood(5000)
    async with _serving(front) as client:
        found = await _list(client)
    assert len(found.listing.referrers) == REFERRERS_MAX
    assert found.listing.unread
    assert found.listing.over_limit == 200 - REFERRERS_MAX
    assert front.count("referrers") == 2


async def test_thousands_of_other_referrers_stop_at_the_page_bound() -> None:
    front = ReferrersFront(page_size=100, filtering=False)
    front.referrers[(REPO, IMAGE)] = _flood(5000, artifact_type="application/x-spam")
    async with _serving(front) as client:
        found = await _list(client)
    assert found.listing.referrers == ()
    assert found.listing.other_types == 100 * PAGES_MAX
    assert found.listing.unread
    assert front.count("referrers") == PAGES_MAX


async def test_a_500_from_the_api_is_an_error_not_a_fallback() -> None:
    front = ReferrersFront(statuses={referrers_path(REPO, IMAGE): 500})
    _tag_lists(front, _attach(front, referrer_manifest(IMAGE, b"bundle")))
    async with _serving(front) as client:
        with pytest.raises(HttpStatusError, match="500"):
            await _list(client)
    # The tag was asked beside the API (it lists the bundle), but only a 404 lets it count.
    assert front.count(referrers_tag(IMAGE)) == 1


async def test_a_later_page_that_vanished_is_not_the_no_api_answer() -> None:
    path = referrers_path(REPO, IMAGE)
    front = ReferrersFront(page_size=2, link=lambda target: target.replace(path, path + "x"))
    front.referrers[(REPO, IMAGE)] = _flood(5)
    async with _serving(front) as client:
        with pytest.raises(BadContent, match="not this referrers list"):
            await _list(client)


async def test_a_later_page_answering_404_is_an_error_not_absent() -> None:
    # NotFound would reach the validator as "no such list" (None), which it cannot use.
    front = ReferrersFront(page_size=2, statuses={f"{API_PATH}?page=1": 404})
    front.referrers[(REPO, IMAGE)] = _flood(5)
    async with _serving(front) as client:
        with pytest.raises(BadContent, match="a later page of the referrers list answered 404"):
            await _list(client, artifact_type=None)


async def test_a_slow_registry_is_cut_at_the_fetch_deadline() -> None:
    front = ReferrersFront(delays={referrers_path(REPO, IMAGE): 30.0})
    async with _serving(front) as client:
        started = time.monotonic()
        with pytest.raises(trio.TooSlowError):
            await list_referrers(client, REPO, IMAGE, artifact_type=None, fetch_s=0.3)
        assert time.monotonic() - started < 5


async def test_a_malformed_page_names_the_reason() -> None:
    front = ReferrersFront()
    front.referrers[(REPO, IMAGE)] = [{"mediaType": OCI_MANIFEST, "digest": "sha256:x", "size": 1}]
    async with _serving(front) as client:
        with pytest.raises(BadContent, match=r"manifests\[0\].digest"):
            await _list(client, artifact_type=None)


# --- the referrers tag schema ---------------------------------------------------------------


async def test_without_the_api_the_tag_schema_is_read() -> None:
    front = ReferrersFront(api=False)
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    _attach(front, referrer_manifest(IMAGE, b"envelope", artifact_type=NOTATION_TYPE))
    entries = front.referrers[(REPO, IMAGE)]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    front.put_manifest(REPO, json.dumps(index).encode(), referrers_tag(IMAGE))
    async with _serving(front) as client:
        found = await _list(client)
    assert found.source == TAG_SCHEMA
    assert [entry.digest for entry in found.listing.referrers] == [bundle.digest]
    assert found.listing.other_types == 1
    assert front.requests[-1] == f"GET /v2/{REPO}/manifests/sha256-{'a' * 64}"


async def test_no_tag_means_no_referrers() -> None:
    async with _serving(ReferrersFront(api=False)) as client:
        found = await _list(client)
    assert (found.source, found.listing.referrers) == (TAG_SCHEMA, ())


async def test_a_tag_holding_no_index_means_no_referrers() -> None:
    front = ReferrersFront(api=False)
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {}, "layers": []}
    front.put_manifest(REPO, json.dumps(manifest).encode(), referrers_tag(IMAGE))
    async with _serving(front) as client:
        found = await _list(client)
    assert (found.source, found.listing.referrers) == (TAG_SCHEMA, ())


async def test_a_malformed_tag_index_names_the_reason() -> None:
    front = ReferrersFront(api=False)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"size": 1}]}
    front.put_manifest(REPO, json.dumps(index).encode(), referrers_tag(IMAGE))
    async with _serving(front) as client:
        with pytest.raises(BadContent, match=r"manifests\[0\].mediaType"):
            await _list(client)


# --- the API and the tag at once, and what is learnt of the registry's API -----------------


@asynccontextmanager
async def _gated(front: ReferrersFront) -> AsyncIterator[tuple[RegistryClient, RoundGate]]:
    gate = RoundGate(front)
    async with gate.releasing(), _serving_app(gate) as client:
        yield client, gate


@asynccontextmanager
async def _serving_app(app: Any) -> AsyncIterator[RegistryClient]:
    async with serve_https(app) as server, Fetcher(ca_pem=server.ca_pem) as fetcher:
        yield RegistryClient(AuthSession(fetcher), server.base_url.removeprefix("https://"))


def _rounds(gate: RoundGate) -> list[list[str]]:
    return [sorted(request.split("?", 1)[0] for request in batch) for batch in gate.rounds]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_without_the_api_its_404_and_the_tag_are_one_round_trip() -> None:
    front = ReferrersFront(api=False)
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    _tag_lists(front, bundle)
    memory = ApiMemory()
    async with _gated(front) as (client, gate):
        found = await _list(client, memory=memory)
        assert _rounds(gate) == [[TAG_GET, f"GET {API_PATH}"]]
        assert memory.has_api(client.base) is False
        # Learnt: the next listing on this registry asks the tag alone.
        gate.reset()
        again = await _list(client, memory=memory)
        assert _rounds(gate) == [[TAG_GET]]
    assert found == again
    assert (found.source, [e.digest for e in found.listing.referrers]) == (
        TAG_SCHEMA,
        [bundle.digest],
    )


async def test_with_the_api_it_and_the_tag_are_one_round_trip_then_the_api_alone() -> None:
    front = ReferrersFront()
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    memory = ApiMemory()
    async with _gated(front) as (client, gate):
        found = await _list(client, memory=memory)
        assert _rounds(gate) == [[TAG_GET, f"GET {API_PATH}"]]
        assert memory.has_api(client.base) is True
        gate.reset()
        again = await _list(client, memory=memory)
        assert _rounds(gate) == [[f"GET {API_PATH}"]]
    assert found == again
    assert (found.source, [e.digest for e in found.listing.referrers]) == (API, [bundle.digest])


async def test_a_known_api_that_answers_404_is_followed_by_the_tag_as_before() -> None:
    front = ReferrersFront()
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    memory = ApiMemory()
    async with _gated(front) as (client, gate):
        await _list(client, memory=memory)
        front.api = False  # the registry lost its API, and keeps the tag schema
        _tag_lists(front, bundle)
        gate.reset()
        found = await _list(client, memory=memory)
        assert _rounds(gate) == [[f"GET {API_PATH}"], [TAG_GET]]
        assert memory.has_api(client.base) is False
    assert (found.source, [e.digest for e in found.listing.referrers]) == (
        TAG_SCHEMA,
        [bundle.digest],
    )


async def test_the_apis_list_wins_over_the_tags() -> None:
    front = ReferrersFront()
    listed = _attach(front, referrer_manifest(IMAGE, b"listed by the API"))
    tagged = _attach(front, referrer_manifest(IMAGE, b"only in the tag"))
    front.referrers[(REPO, IMAGE)] = [index_entry(front.manifests[(REPO, listed.digest)])]
    _tag_lists(front, tagged)
    async with _serving(front) as client:
        found = await _list(client)
    assert (found.source, [e.digest for e in found.listing.referrers]) == (API, [listed.digest])


NOT_AN_INDEX = json.dumps(
    {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}
).encode()


@pytest.mark.parametrize(
    ("front", "error", "reason"),
    [
        (ReferrersFront(statuses={API_PATH: 503}), HttpStatusError, "503"),
        (ReferrersFront(statuses={API_PATH: 403}), FetchError, "403"),
        (ReferrersFront(statuses={API_PATH: 400}), HttpStatusError, "400"),
        (ReferrersFront(bodies={API_PATH: b"<html>garbage"}), BadContent, "not JSON"),
        (ReferrersFront(bodies={API_PATH: NOT_AN_INDEX}), BadContent, "not an OCI index"),
        (ReferrersFront(bodies={API_PATH: b"[]"}), BadContent, "not a JSON object"),
    ],
    ids=["503", "403", "400", "garbage", "a manifest", "a list"],
)
async def test_where_the_api_spoke_the_tags_list_is_never_used(
    front: ReferrersFront, error: type[Exception], reason: str
) -> None:
    _tag_lists(front, _attach(front, referrer_manifest(IMAGE, b"bundle")))
    memory = ApiMemory()
    async with _serving(front) as client:
        with pytest.raises(error, match=reason):
            await _list(client, memory=memory)
    assert front.count(referrers_tag(IMAGE)) == 1  # asked, and its list dropped
    assert len(memory) == 0


async def test_a_slow_api_is_a_timeout_though_the_tag_answered() -> None:
    front = ReferrersFront(delays={API_PATH: 30.0})
    _tag_lists(front, _attach(front, referrer_manifest(IMAGE, b"bundle")))
    memory = ApiMemory()
    async with _serving(front) as client:
        started = time.monotonic()
        with pytest.raises(trio.TooSlowError):
            await list_referrers(
                client, REPO, IMAGE, artifact_type=None, fetch_s=0.3, memory=memory
            )
        assert time.monotonic() - started < 5
    assert len(memory) == 0


async def test_a_slow_tag_does_not_hold_up_the_apis_answer() -> None:
    tag_path = f"/v2/{REPO}/manifests/{referrers_tag(IMAGE)}"
    front = ReferrersFront(delays={tag_path: 30.0})
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    async with _serving(front) as client:
        started = time.monotonic()
        found = await list_referrers(client, REPO, IMAGE, artifact_type=None, fetch_s=10.0)
        assert time.monotonic() - started < 5  # the tag's request was cancelled
    assert [e.digest for e in found.listing.referrers] == [bundle.digest]


TAG_PATH = f"/v2/{REPO}/manifests/{referrers_tag(IMAGE)}"


@pytest.mark.parametrize(
    ("tag_front", "error"),
    [
        (ReferrersFront(api=False, statuses={TAG_PATH: 500}), HttpStatusError),
        (ReferrersFront(api=False, delays={TAG_PATH: 30.0}), trio.TooSlowError),
    ],
    ids=["500", "slow"],
)
async def test_after_the_apis_404_the_tags_failure_is_the_answer(
    tag_front: ReferrersFront, error: type[Exception]
) -> None:
    memory = ApiMemory()
    async with _serving(tag_front) as client:
        with pytest.raises(error):
            await list_referrers(
                client, REPO, IMAGE, artifact_type=None, fetch_s=0.5, memory=memory
            )
    assert len(memory) == 0


async def test_a_404_is_learnt_only_beside_a_tag_index() -> None:
    # A registry with the API may answer 404 for a repository that does not exist: that must
    # not switch the registry to the tag schema (whose 404 would deny every image).
    memory = ApiMemory()
    async with _serving(ReferrersFront(api=False)) as client:
        found = await _list(client, memory=memory)
        assert memory.has_api(client.base) is None
    assert found.listing.referrers == ()


async def test_a_learnt_404_ends_with_its_expiry() -> None:
    clock = _Clock()
    memory = ApiMemory(ttl_s=900.0, clock=clock)
    front = ReferrersFront(api=False)
    bundle = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    _tag_lists(front, bundle)
    async with _serving(front) as client:
        await _list(client, memory=memory)
        clock.now = 899.9
        await _list(client, memory=memory)  # not a refresh: the expiry stays at 900
        assert front.count("/referrers/") == 1
        # The registry gained the API (and no longer keeps the tag): asked again at 900 s.
        front.api = True
        front.manifests.pop((REPO, referrers_tag(IMAGE)))
        clock.now = 900.0
        found = await _list(client, memory=memory)
        assert memory.has_api(client.base) is True
    assert front.count("/referrers/") == 2
    assert (found.source, [e.digest for e in found.listing.referrers]) == (API, [bundle.digest])


# --- reading referrers and their blobs ------------------------------------------------------


async def _fetch_referrer(client: RegistryClient, entry: ArtifactDescriptor, **kw: Any):
    return await fetch_referrer(
        client,
        REPO,
        entry,
        subject=IMAGE,
        artifact_type=BUNDLE_TYPE,
        layer_max_bytes=kw.pop("layer_max_bytes", 1000),
        fetch_s=FETCH_S,
    )


async def test_a_referrer_and_its_layer_are_read_and_verified() -> None:
    front = ReferrersFront()
    entry = _attach(front, referrer_manifest(IMAGE, b"the bundle"))
    async with _serving(front) as client:
        referrer = await _fetch_referrer(client, entry)
        (layer,) = referrer.layers
        blob = await fetch_blob(client, REPO, layer, max_bytes=1000, fetch_s=FETCH_S)
    assert blob == b"the bundle"
    assert referrer.subject.digest == IMAGE


async def test_a_referrer_of_another_image_is_refused() -> None:
    front = ReferrersFront()
    artifact = referrer_manifest(OTHER_IMAGE, b"bundle")
    # The list of IMAGE claims it; its manifest names OTHER_IMAGE.
    front.put_manifest(REPO, artifact.manifest)
    entry = index_entry(artifact.manifest)
    descriptor = ArtifactDescriptor(OCI_MANIFEST, entry["digest"], entry["size"], BUNDLE_TYPE)
    async with _serving(front) as client:
        with pytest.raises(ForeignSubject, match=OTHER_IMAGE):
            await _fetch_referrer(client, descriptor)


async def test_a_referrer_declaring_more_than_the_cap_is_not_fetched() -> None:
    front = ReferrersFront()
    entry = ArtifactDescriptor(OCI_MANIFEST, IMAGE, REFERRER_MANIFEST_MAX_BYTES + 1)
    async with _serving(front) as client:
        with pytest.raises(TooLarge, match="declares"):
            await _fetch_referrer(client, entry)
    assert front.requests == []


async def test_an_oversized_referrer_manifest_is_cut_at_the_cap() -> None:
    front = ReferrersFront()
    huge = b"{" + b" " * (REFERRER_MANIFEST_MAX_BYTES + 10) + b"}"
    digest = front.put_manifest(REPO, huge)
    async with _serving(front) as client:
        with pytest.raises(TooLarge, match="cap"):
            await _fetch_referrer(client, ArtifactDescriptor(OCI_MANIFEST, digest, 10))


async def test_a_manifest_that_does_not_hash_to_its_digest_is_refused() -> None:
    front = ReferrersFront()
    entry = _attach(front, referrer_manifest(IMAGE, b"bundle"))
    front.manifests[(REPO, entry.digest)] = referrer_manifest(IMAGE, b"forged").manifest
    async with _serving(front) as client:
        with pytest.raises(BadContent, match="hashes to"):
            await _fetch_referrer(client, entry)
        with pytest.raises(BadContent, match="hashes to"):
            await fetch_manifest_by_digest(
                client, REPO, entry.digest, max_bytes=10_000, fetch_s=FETCH_S
            )


async def test_a_layer_over_the_cap_refuses_the_referrer() -> None:
    front = ReferrersFront()
    entry = _attach(front, referrer_manifest(IMAGE, b"x" * 2000))
    async with _serving(front) as client:
        with pytest.raises(ReferrersError, match=r"layers\[0\] declares 2000 bytes"):
            await _fetch_referrer(client, entry)


async def test_a_blob_declaring_more_than_the_cap_is_not_fetched() -> None:
    front = ReferrersFront()
    layer = ArtifactDescriptor(BUNDLE_TYPE, front.put_blob(b"x" * 100), 100)
    async with _serving(front) as client:
        with pytest.raises(TooLarge, match="declares 100 bytes"):
            await fetch_blob(client, REPO, layer, max_bytes=99, fetch_s=FETCH_S)
    assert front.requests == []


async def test_a_blob_longer_than_declared_is_cut_short() -> None:
    front = ReferrersFront()
    digest = front.put_blob(b"x" * 100_000)
    async with _serving(front) as client:
        layer = ArtifactDescriptor(BUNDLE_TYPE, digest, 10)
        with pytest.raises(TooLarge, match="10-byte cap"):
            await fetch_blob(client, REPO, layer, max_bytes=1000, fetch_s=FETCH_S)


async def test_a_blob_that_does_not_hash_to_its_digest_is_refused() -> None:
    front = ReferrersFront()
    digest = digest_of(b"the bundle")
    front.blobs[digest] = b"the forge!"
    async with _serving(front) as client:
        layer = ArtifactDescriptor(BUNDLE_TYPE, digest, 10)
        with pytest.raises(BadContent, match="hashes to"):
            await fetch_blob(client, REPO, layer, max_bytes=1000, fetch_s=FETCH_S)


async def test_a_missing_blob_is_not_found() -> None:
    async with _serving(ReferrersFront()) as client:
        layer = ArtifactDescriptor(BUNDLE_TYPE, IMAGE, 10)
        with pytest.raises(NotFound):
            await fetch_blob(client, REPO, layer, max_bytes=1000, fetch_s=FETCH_S)
