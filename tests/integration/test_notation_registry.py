"""The notation validator against the real docker-registry on loopback.

Envelopes of the project's own signer (JWS and COSE, an own CA hierarchy, an own TSA) are
pushed as OCI 1.1 referrers the way notation does: straight to Debian's docker-registry 2.8,
which has no referrers API, so the pusher maintains the referrers tag schema and kenner reads
it; and through the referrers front proxying to the same registry, where the pushes get
``OCI-Subject`` and kenner takes the referrers API.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.load import load_config
from kenner.config.model import RuleOptions
from kenner.notation.payload import Target
from kenner.oci.manifest import OCI_MANIFEST
from kenner.validators.build import build_validators, open_runtime
from tests.harness import Testbed
from tests.loopback.servers import serve_https
from tests.support.notation_signing import DAY, Pki, make_pki, sign
from tests.support.referrers_front import ReferrersFront
from tests.support.referrers_push import NOTATION_TYPE, RegistryPusher, referrer_manifest
from tests.support.tsa import make_tsa

JWS = "application/jose+json"
COSE = "application/cose"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _pem(certificate: Any) -> str:
    return str(certificate.public_bytes(serialization.Encoding.PEM).decode())


@pytest.fixture
def pusher(testbed: Testbed) -> Iterator[RegistryPusher]:
    pushing = RegistryPusher(f"https://{testbed.registry_host}", testbed.ca_pem)
    yield pushing
    pushing.close()


def _push_image(pusher: RegistryPusher, repository: str, seed: bytes) -> Target:
    """An image tagged ``v1``: the target descriptor its signatures must name."""
    digest, size = pusher.push_image(repository, "v1", seed)
    return Target(OCI_MANIFEST, digest, size)


def _attach(
    pusher: RegistryPusher, repository: str, target: Target, envelope: bytes, media_type: str
) -> bool:
    artifact = referrer_manifest(
        target.digest,
        envelope,
        artifact_type=NOTATION_TYPE,
        layer_media_type=media_type,
        subject_size=target.size,
    )
    return pusher.attach(repository, artifact)


async def _answer(
    host: str, ca_pem: str, roots: dict[str, dict[str, str]], image: str, **options: Any
) -> Verdict:
    validator = {
        "name": "notation",
        "type": "notation",
        "cert": ca_pem,
        "trustRoots": [{"name": name, **root} for name, root in roots.items()],
    }
    policy = [{"pattern": "*:*", "validator": "notation"}]
    config = load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))
    async with open_runtime() as runtime:
        driver = build_validators(config, runtime)["notation"]
        verdict: Verdict = await driver.answer(
            parse_image(f"{host}/{image}"), RuleOptions(**options)
        )
        return verdict


def _signer(name: str = "Leaf") -> Pki:
    now = _now()
    return make_pki(name=name, not_before=now - DAY, not_after=now + 30 * DAY)


@pytest.mark.testbed
async def test_signatures_found_through_the_tag_schema(
    testbed: Testbed, pusher: RegistryPusher
) -> None:
    repository = "notation/tag-schema"
    pki = _signer()
    target = _push_image(pusher, repository, b'{"image": "notation-tag-schema"}')
    assert not _attach(pusher, repository, target, sign(pki, target=target), JWS)
    assert not _attach(pusher, repository, target, sign(pki, target=target, media_type=COSE), COSE)
    roots = {"default": {"cert": _pem(pki.root)}}
    verdict = await _answer(testbed.registry_host, testbed.ca_pem, roots, f"{repository}:v1")
    assert verdict == Trusted(target.digest)
    other = {"default": {"cert": _pem(_signer("Other").root)}}
    denied = await _answer(testbed.registry_host, testbed.ca_pem, other, f"{repository}:v1")
    assert isinstance(denied, Untrusted)
    assert "default (untrusted_chain:" in denied.reason


@pytest.mark.testbed
async def test_an_expired_signer_rescued_by_its_timestamp(
    testbed: Testbed, pusher: RegistryPusher
) -> None:
    repository = "notation/timestamped"
    now = _now()
    expired = make_pki(name="Expired", not_before=now - 60 * DAY, not_after=now - DAY)
    tsa = make_tsa()
    target = _push_image(pusher, repository, b'{"image": "notation-timestamped"}')
    signed_at = now - 10 * DAY
    envelope = sign(expired, target=target, tsa=tsa, signing_time=signed_at)
    _attach(pusher, repository, target, envelope, JWS)
    image = f"{repository}:v1"
    host, ca = testbed.registry_host, testbed.ca_pem
    without_tsa = await _answer(host, ca, {"default": {"cert": _pem(expired.root)}}, image)
    assert isinstance(without_tsa, Untrusted)
    assert "bad_timestamp" in without_tsa.reason
    roots = {"default": {"cert": _pem(expired.root), "tsCert": _pem(tsa.root)}}
    assert await _answer(host, ca, roots, image) == Trusted(target.digest)


def _push_through(base_url: str, ca_pem: str, pki: Pki) -> Target:
    pusher = RegistryPusher(base_url, ca_pem)
    try:
        repository = "notation/api"
        digest, size = pusher.push_image(repository, "v1", b'{"image": "notation-api"}')
        target = Target(OCI_MANIFEST, digest, size)
        assert _attach(pusher, repository, target, sign(pki, target=target), JWS)
        return target
    finally:
        pusher.close()


@pytest.mark.testbed
async def test_through_the_front_the_referrers_api_is_used(testbed: Testbed) -> None:
    pki = _signer()
    front = ReferrersFront(
        upstream=f"https://{testbed.registry_host}", upstream_ca_pem=testbed.ca_pem
    )
    try:
        async with serve_https(front) as server:
            target = await trio.to_thread.run_sync(
                _push_through, server.base_url, server.ca_pem, pki
            )
            host = server.base_url.removeprefix("https://")
            roots = {"default": {"cert": _pem(pki.root)}}
            verdict = await _answer(host, server.ca_pem, roots, "notation/api:v1")
    finally:
        await front.aclose()
    assert verdict == Trusted(target.digest)
    assert front.count("/referrers/") == 1
