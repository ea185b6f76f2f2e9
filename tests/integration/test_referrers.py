"""Referrer discovery against the real docker-registry on loopback, with and without the front.

Debian's docker-registry 2.8 has no referrers API (its 404 sends kenner to the referrers tag
schema), and stores OCI 1.1 artifact manifests (``artifactType``, ``subject``) byte-exactly;
``RegistryPusher`` maintains the tag schema the way cosign v3 and notation do. Through the
referrers front (tests/support/referrers_front.py) proxying to the same registry, the pushes
are answered with ``OCI-Subject`` and the API path is taken.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import trio

from kenner.net.auth import AuthSession
from kenner.net.errors import NotFound
from kenner.net.http import Fetcher
from kenner.net.referrers import API, TAG_SCHEMA, fetch_blob, fetch_referrer, list_referrers
from kenner.net.registry import RegistryClient
from kenner.oci.manifest import OCI_INDEX
from kenner.oci.referrers import ForeignSubject, referrers_tag
from tests.harness import Testbed
from tests.loopback.servers import serve_https
from tests.support.referrers_front import ReferrersFront, index_entry
from tests.support.referrers_push import (
    BUNDLE_TYPE,
    NOTATION_TYPE,
    Artifact,
    RegistryPusher,
    referrer_manifest,
)

FETCH_S = 10.0
API_REPOSITORY = "referrers/api"
BUNDLE = b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}'


@pytest.fixture
def pusher(testbed: Testbed) -> Iterator[RegistryPusher]:
    pushing = RegistryPusher(f"https://{testbed.registry_host}", testbed.ca_pem)
    yield pushing
    pushing.close()


@asynccontextmanager
async def _client(host: str, ca_pem: str) -> AsyncIterator[RegistryClient]:
    async with Fetcher(ca_pem=ca_pem) as fetcher:
        yield RegistryClient(AuthSession(fetcher), host)


@pytest.mark.testbed
async def test_a_cosign_v3_referrer_is_found_through_the_tag_schema(
    testbed: Testbed, pusher: RegistryPusher
) -> None:
    repository = "referrers/tag-schema"
    image, size = pusher.push_image(repository, "v1", b'{"image": "tag-schema"}')
    bundle = referrer_manifest(image, BUNDLE, subject_size=size)
    envelope = referrer_manifest(image, b"jws", artifact_type=NOTATION_TYPE, subject_size=size)
    assert not pusher.attach(repository, bundle)  # no OCI-Subject: the tag schema was written
    assert not pusher.attach(repository, envelope)
    assert not pusher.attach(repository, bundle)  # listed once only
    async with _client(testbed.registry_host, testbed.ca_pem) as client:
        found = await list_referrers(
            client, repository, image, artifact_type=BUNDLE_TYPE, fetch_s=FETCH_S
        )
        assert found.source == TAG_SCHEMA
        assert [entry.digest for entry in found.listing.referrers] == [bundle.digest]
        assert found.listing.other_types == 1
        # The registry serves the artifact byte-exactly: its subject and layer are intact.
        referrer = await fetch_referrer(
            client,
            repository,
            found.listing.referrers[0],
            subject=image,
            artifact_type=BUNDLE_TYPE,
            layer_max_bytes=1024,
            fetch_s=FETCH_S,
        )
        (layer,) = referrer.layers
        blob = await fetch_blob(client, repository, layer, max_bytes=1024, fetch_s=FETCH_S)
    assert blob == BUNDLE
    assert referrer.artifact_type == BUNDLE_TYPE


@pytest.mark.testbed
async def test_an_image_without_referrers_has_none(
    testbed: Testbed, pusher: RegistryPusher
) -> None:
    image, _ = pusher.push_image("referrers/none", "v1", b'{"image": "none"}')
    async with _client(testbed.registry_host, testbed.ca_pem) as client:
        found = await list_referrers(
            client, "referrers/none", image, artifact_type=BUNDLE_TYPE, fetch_s=FETCH_S
        )
    assert (found.source, found.listing.referrers) == (TAG_SCHEMA, ())


@pytest.mark.testbed
async def test_a_listed_referrer_of_another_image_is_refused(
    testbed: Testbed, pusher: RegistryPusher
) -> None:
    repository = "referrers/foreign"
    image, _ = pusher.push_image(repository, "v1", b'{"image": "foreign-1"}')
    other, _ = pusher.push_image(repository, "v2", b'{"image": "foreign-2"}')
    stolen = referrer_manifest(other, BUNDLE)
    pusher.attach(repository, stolen)
    # An attacker lists the other image's signature in this image's referrers tag.
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [index_entry(stolen.manifest)],
    }
    pusher.push_manifest(repository, referrers_tag(image), json.dumps(index).encode(), OCI_INDEX)
    async with _client(testbed.registry_host, testbed.ca_pem) as client:
        found = await list_referrers(
            client, repository, image, artifact_type=BUNDLE_TYPE, fetch_s=FETCH_S
        )
        (entry,) = found.listing.referrers
        with pytest.raises(ForeignSubject, match=f"not the image {image}"):
            await fetch_referrer(
                client,
                repository,
                entry,
                subject=image,
                artifact_type=BUNDLE_TYPE,
                layer_max_bytes=1024,
                fetch_s=FETCH_S,
            )


def _push_through(base_url: str, ca_pem: str) -> tuple[str, Artifact]:
    """An image with a bundle and an envelope, pushed through the front; (image, bundle)."""
    pusher = RegistryPusher(base_url, ca_pem)
    try:
        image, size = pusher.push_image(API_REPOSITORY, "v1", b'{"image": "api"}')
        bundle = referrer_manifest(image, BUNDLE, subject_size=size)
        assert pusher.attach(API_REPOSITORY, bundle)  # OCI-Subject: no tag schema written
        envelope = referrer_manifest(image, b"jws", artifact_type=NOTATION_TYPE)
        assert pusher.attach(API_REPOSITORY, envelope)
        return image, bundle
    finally:
        pusher.close()


@pytest.mark.testbed
async def test_through_the_front_the_referrers_api_is_used(testbed: Testbed) -> None:
    repository = API_REPOSITORY
    front = ReferrersFront(
        upstream=f"https://{testbed.registry_host}", upstream_ca_pem=testbed.ca_pem
    )
    try:
        async with serve_https(front) as server:
            # The pusher blocks: it runs in a thread while the front serves on this event loop.
            image, bundle = await trio.to_thread.run_sync(
                _push_through, server.base_url, server.ca_pem
            )
            host = server.base_url.removeprefix("https://")
            async with _client(host, server.ca_pem) as client:
                found = await list_referrers(
                    client, repository, image, artifact_type=BUNDLE_TYPE, fetch_s=FETCH_S
                )
                referrer = await fetch_referrer(
                    client,
                    repository,
                    found.listing.referrers[0],
                    subject=image,
                    artifact_type=BUNDLE_TYPE,
                    layer_max_bytes=1024,
                    fetch_s=FETCH_S,
                )
                (layer,) = referrer.layers
                blob = await fetch_blob(client, repository, layer, max_bytes=1024, fetch_s=FETCH_S)
    finally:
        await front.aclose()
    assert found.source == API
    assert [entry.digest for entry in found.listing.referrers] == [bundle.digest]
    assert blob == BUNDLE
    async with _client(testbed.registry_host, testbed.ca_pem) as direct:
        with pytest.raises(NotFound):  # the registry itself holds no referrers tag
            await direct.manifest_bytes(repository, referrers_tag(image), max_bytes=4096)
