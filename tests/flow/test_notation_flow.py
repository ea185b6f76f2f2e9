"""The notation step on a driver with a scripted registry, in virtual time.

Every fetch takes ``LOAD_S`` of virtual time, so the round trips of a cold answer are seen in
the clock, concurrent answers are seen to share one derivation, and a warm answer to take
none. The signatures are the project's own (tests/support/notation_signing.py).
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted
from kenner.config.load import load_config
from kenner.config.model import NotationValidatorConfig, RuleOptions
from kenner.net.cache import TtlCache
from kenner.net.errors import FetchError
from kenner.net.loader import CachedLoader
from kenner.net.referrers import API, Discovery
from kenner.net.registry import FetchedManifest
from kenner.notation.payload import Target
from kenner.oci.manifest import OCI_MANIFEST, digest_of, parse_manifest
from kenner.oci.referrers import ArtifactDescriptor, ReferrerList, parse_referrer_manifest
from kenner.validators.driver import Driver, Links, NeedCache
from kenner.validators.needs import Blob, Manifest, Need, Referrer, Referrers
from kenner.validators.notation import NotationValidator
from kenner.validators.registry_access import Logins, LoginSource
from tests.support.notation_signing import DAY, make_pki, sign
from tests.support.referrers_push import NOTATION_TYPE, referrer_manifest

LOAD_S = 1.0
# Verification runs in a worker thread (real time): the clock jumps only once the event loop
# has been idle this long in real time, so a thread's few milliseconds never look like a hang.
AUTOJUMP_THRESHOLD_S = 0.5
REGISTRY = "registry.kenner.test"
REPO = "team/app"


class Unreachable(FetchError):
    pass


@pytest.fixture
def thread_tolerant_clock() -> trio.testing.MockClock:
    """A virtual clock for tests whose answers include worker-thread work."""
    return trio.testing.MockClock(autojump_threshold=AUTOJUMP_THRESHOLD_S)


@attrs.define
class ScriptedRegistry:
    """Manifests by reference, blobs by digest, referrers per subject; every fetch counted."""

    manifests: dict[str, bytes] = attrs.Factory(dict)
    blobs: dict[str, bytes] = attrs.Factory(dict)
    referrers: dict[str, list[ArtifactDescriptor]] = attrs.Factory(dict)
    broken: set[str] = attrs.Factory(set)
    fetched: Counter[str] = attrs.Factory(Counter)

    def host(self, need: Need[Any]) -> str:
        return REGISTRY

    def location(self, need: Need[Any]) -> str:
        return f"{REGISTRY}/{type(need).__name__}"

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        await trio.sleep(LOAD_S)
        if isinstance(need, Referrer):
            self.fetched[f"manifest {need.digest}"] += 1
            if need.digest in self.broken:
                raise Unreachable(self.location(need), "connection reset")
            data = self.manifests.get(need.digest)
            if data is None:
                return None
            return parse_referrer_manifest(
                data,
                subject=need.subject,
                artifact_type=need.artifact_type,
                layer_max_bytes=need.layer_max_bytes,
            )
        if isinstance(need, Manifest):
            self.fetched[f"manifest {need.reference}"] += 1
            if need.reference in self.broken:
                raise Unreachable(self.location(need), "connection reset")
            data = self.manifests.get(need.reference)
            if data is None:
                return None
            return FetchedManifest(digest_of(data), parse_manifest(data, None), len(data))
        if isinstance(need, Referrers):
            self.fetched[f"referrers {need.digest}"] += 1
            return Discovery(API, ReferrerList(tuple(self.referrers.get(need.digest, []))))
        assert isinstance(need, Blob)
        self.fetched[f"blob {need.digest}"] += 1
        return self.blobs.get(need.digest)


def _image() -> tuple[bytes, Target]:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/json", "digest": digest_of(b"{}"), "size": 2},
            "layers": [],
        }
    ).encode()
    return manifest, Target(OCI_MANIFEST, digest_of(manifest), len(manifest))


def _attach(
    registry: ScriptedRegistry,
    target: Target,
    envelope: bytes,
    media_type: str = "application/jose+json",
) -> str:
    artifact = referrer_manifest(
        target.digest, envelope, artifact_type=NOTATION_TYPE, layer_media_type=media_type
    )
    registry.manifests[artifact.digest] = artifact.manifest
    for blob in artifact.blobs:
        registry.blobs[digest_of(blob)] = blob
    entry = ArtifactDescriptor(OCI_MANIFEST, artifact.digest, len(artifact.manifest), NOTATION_TYPE)
    registry.referrers.setdefault(target.digest, []).append(entry)
    return artifact.digest


def _driver(registry: ScriptedRegistry, root_pem: str, background: trio.Nursery) -> Driver:
    document = {
        "validators": [
            {"name": "n", "type": "notation", "trustRoots": [{"name": "default", "cert": root_pem}]}
        ],
        "policy": [{"pattern": "*:*", "validator": "n"}],
    }
    config = load_config(yaml.safe_dump(document)).validators[0]
    assert isinstance(config, NotationValidatorConfig)
    cache: TtlCache[Any, Any] = TtlCache(ttl_s=300.0, failure_ttl_s=5.0, max_entries=100)
    loader: NeedCache = CachedLoader(cache, background, work_deadline_s=30.0)
    validator = NotationValidator(config, logins=Logins(LoginSource()))
    return Driver(validator, Links(registry, loader, fetch_s=10.0))


def _signer() -> Any:
    now = datetime.datetime.now(datetime.UTC)
    return make_pki(not_before=now - DAY, not_after=now + 30 * DAY)


def _pem(pki: Any) -> str:
    return str(pki.root.public_bytes(serialization.Encoding.PEM).decode())


async def test_concurrent_cold_answers_share_one_read_of_each_fact(
    thread_tolerant_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = ScriptedRegistry()
    manifest, target = _image()
    registry.manifests["v1"] = manifest
    pki = _signer()
    signature = _attach(registry, target, sign(pki, target=target))
    driver = _driver(registry, _pem(pki), background)
    image = parse_image(f"{REGISTRY}/{REPO}:v1")
    verdicts: list[Any] = []
    start = trio.current_time()

    async def answer() -> None:
        verdicts.append(await driver.answer(image, RuleOptions()))

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(answer)
    assert verdicts == [Trusted(target.digest)] * 20
    # Cold: the image manifest, the referrers list, the signature manifest, the envelope.
    assert 4 * LOAD_S <= trio.current_time() - start < 5 * LOAD_S
    assert all(count == 1 for count in registry.fetched.values())
    assert len(registry.fetched) == 4
    assert f"manifest {signature}" in registry.fetched
    # Warm: from the cache, without a fetch or a checkpoint.
    assert driver.answer_now(image, RuleOptions()) == Trusted(target.digest)
    assert sum(registry.fetched.values()) == 4


async def test_a_failed_signature_read_denies_and_a_missing_one_is_skipped(
    thread_tolerant_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = ScriptedRegistry()
    manifest, target = _image()
    registry.manifests["v1"] = manifest
    pki = _signer()
    broken = _attach(registry, target, sign(pki, target=target))
    image = parse_image(f"{REGISTRY}/{REPO}:v1")
    # A registry failure on a listed signature is a failure of the derivation (the driver's
    # first failure wins over needs still under way): fail closed, naming it.
    registry.broken.add(broken)
    verdict = await _driver(registry, _pem(pki), background).answer(image, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert "connection reset" in verdict.reason
    cose = "application/cose"
    _attach(registry, target, sign(pki, target=target, media_type=cose), cose)
    # A listed signature the registry no longer holds (404) is skipped: another one counts.
    registry.broken.clear()
    del registry.manifests[broken]
    fresh = _driver(registry, _pem(pki), background)
    assert await fresh.answer(image, RuleOptions()) == Trusted(target.digest)


async def test_by_digest_the_manifest_and_the_list_are_read_at_once(
    thread_tolerant_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = ScriptedRegistry()
    manifest, target = _image()
    registry.manifests[target.digest] = manifest
    pki = _signer()
    _attach(registry, target, sign(pki, target=target))
    driver = _driver(registry, _pem(pki), background)
    start = trio.current_time()
    verdict = await driver.answer(parse_image(f"{REGISTRY}/{REPO}@{target.digest}"), RuleOptions())
    assert verdict == Trusted(target.digest)
    # (manifest | referrers list), then the signature manifest, then the envelope.
    assert 3 * LOAD_S <= trio.current_time() - start < 4 * LOAD_S
    assert sum(registry.fetched.values()) == 4
