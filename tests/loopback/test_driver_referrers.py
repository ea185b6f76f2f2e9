"""The driver meets the referrers needs (list, referrer manifest, blob) over real HTTPS.

A step in the manner of the coming Sigstore-bundle and Notation validators asks for an image's
referrers of one type, the first one's manifest, then its layer, and trusts the image when the
layer holds the expected bytes. The server is the referrers front of
tests/loopback/test_net_referrers.py on 127.0.0.1; requests are counted in its own log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import pytest
import trio

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import RuleOptions
from kenner.net.cache import TtlCache, unwrap
from kenner.net.errors import FetchError
from kenner.net.http import Fetcher
from kenner.net.loader import CachedLoader
from kenner.oci.referrers import ReferrersError
from kenner.validators.base import Ask
from kenner.validators.driver import Driver, Links, NeedCache
from kenner.validators.needs import Blob, Facts, Needs, Referrer, Referrers
from kenner.validators.network import ValidatorNetwork
from kenner.validators.registry_access import RegistryAccess
from tests.loopback.servers import serve_https
from tests.support.referrers_front import ReferrersFront
from tests.support.referrers_push import BUNDLE_TYPE, referrer_manifest

REPO = "team/app"
IMAGE_DIGEST = "sha256:" + "a" * 64
LAYER_MAX = 1024


class FirstBundle:
    """Trusted when the first bundle referrer's layer is ``b"good bundle"``."""

    name = "first-bundle"

    def __init__(self, registry: str) -> None:
        self.registry = registry

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        listed = Referrers(self.registry, REPO, IMAGE_DIGEST, BUNDLE_TYPE, None)
        try:
            listing = facts.get(listed)
            if listing is None:
                return Needs.of(listed)
            entries = unwrap(listing).listing.referrers
            if not entries:
                return Untrusted("no bundle")
            entry = entries[0]
            manifest_need = Referrer(
                self.registry,
                REPO,
                entry.digest,
                entry.size,
                IMAGE_DIGEST,
                BUNDLE_TYPE,
                LAYER_MAX,
                None,
            )
            manifest = facts.get(manifest_need)
            if manifest is None:
                return Needs.of(manifest_need)
            referrer = unwrap(manifest)
            if referrer is None:
                return Untrusted("the referrer is gone")
            layer = referrer.layers[0]
            payload_need = Blob(self.registry, REPO, layer.digest, LAYER_MAX, None, layer.size)
            payload = facts.get(payload_need)
            if payload is None:
                return Needs.of(payload_need)
            data = unwrap(payload)
        except (FetchError, ReferrersError) as error:
            return Untrusted(str(error))
        return Trusted(IMAGE_DIGEST) if data == b"good bundle" else Untrusted(f"bad: {data!r}")


@asynccontextmanager
async def driven(front: ReferrersFront) -> AsyncIterator[Driver]:
    async with (
        serve_https(front) as server,
        Fetcher(ca_pem=server.ca_pem) as fetcher,
        trio.open_nursery() as background,
    ):
        registry = server.base_url.removeprefix("https://")
        network = ValidatorNetwork(registries=RegistryAccess(lambda _: fetcher))
        cache: TtlCache[Any, Any] = TtlCache(ttl_s=60.0, failure_ttl_s=5.0, max_entries=64)
        loader: NeedCache = CachedLoader(cache, background, work_deadline_s=10.0)
        yield Driver(FirstBundle(registry), Links(network, loader, fetch_s=5.0))
        background.cancel_scope.cancel()


IMAGE = parse_image(f"registry.kenner.test/{REPO}@{IMAGE_DIGEST}")


async def test_a_referrer_list_its_manifest_and_its_layer_are_read_once_each() -> None:
    front = ReferrersFront()
    artifact = referrer_manifest(IMAGE_DIGEST, b"good bundle")
    front.attach(REPO, artifact.manifest)
    for blob in artifact.blobs:
        front.put_blob(blob)
    async with driven(front) as driver:
        verdicts: list[Verdict] = []

        async def ask() -> None:
            verdicts.append(await driver.answer(IMAGE, RuleOptions()))

        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(ask)
        assert verdicts == [Trusted(IMAGE_DIGEST)] * 20
        assert driver.answer_now(IMAGE, RuleOptions()) == Trusted(IMAGE_DIGEST)
    assert front.count("/referrers/") == 1
    assert front.count("/manifests/") == 2  # the referrers tag (asked beside the API), the referrer
    assert front.count("/blobs/") == 1


@pytest.mark.parametrize("size", [LAYER_MAX + 1, 10 * 1024 * 1024])
async def test_a_layer_declaring_more_than_the_cap_is_refused_before_any_request(
    size: int,
) -> None:
    front = ReferrersFront()
    artifact = referrer_manifest(IMAGE_DIGEST, b"x" * size)
    front.attach(REPO, artifact.manifest)
    for blob in artifact.blobs:
        front.put_blob(blob)
    async with driven(front) as driver:
        verdict = await driver.answer(IMAGE, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert str(LAYER_MAX) in verdict.reason
    assert front.count("/blobs/") == 0


async def test_a_later_page_answering_404_denies_with_the_reason() -> None:
    path = f"/v2/{REPO}/referrers/{IMAGE_DIGEST}"
    front = ReferrersFront(page_size=1)
    front.statuses[f"{path}?artifactType={quote(BUNDLE_TYPE, safe='')}&page=1"] = 404
    for n in range(2):
        front.attach(REPO, referrer_manifest(IMAGE_DIGEST, b"bundle %d" % n).manifest)
    async with driven(front) as driver:
        verdict = await driver.answer(IMAGE, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert "a later page of the referrers list answered 404" in verdict.reason
