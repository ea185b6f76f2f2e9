"""The cosign validator with Sigstore bundles attached as OCI referrers (cosign v3), on an
in-memory registry: found through the referrers tag schema, verified against an inline trusted
root, combined with legacy signatures, bounded, cached. The real clock: keyless checks run in a
worker thread, which a virtual clock would jump past."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted
from kenner.config.model import (
    CacheConfig,
    Config,
    CosignTrustRoot,
    CosignValidatorConfig,
    KeylessIdentity,
    RuleOptions,
)
from kenner.oci.manifest import digest_of
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.cosign import MAX_REFERRERS, CosignValidator
from kenner.validators.driver import Driver
from tests.support.cosign_signing import public_pem
from tests.support.fake_registry import FakeRegistry
from tests.support.sigstore_sim import (
    EMPTY_JSON,
    IDENTITY,
    ISSUER,
    Ca,
    Log,
    Signing,
    cosign_v3_bundle,
    referrer_manifest,
    referrers_index,
    trusted_root,
)

REGISTRY = "registry.test"
REPOSITORY = "team/app"
NO_TLOG = RuleOptions(verify_in_transparency_log=False)


class World:
    """A CA, a log, a registry with images, and a validator trusting a keyless CI identity
    (``ci``) and a key (``release``)."""

    def __init__(self) -> None:
        self.ca, self.log = Ca(), Log()
        self.registry = FakeRegistry(REGISTRY)
        self.registry.blobs[digest_of(EMPTY_JSON)] = EMPTY_JSON
        self.release_key = ec.generate_private_key(ec.SECP256R1())
        self.referrers: dict[str, list[tuple[str, int]]] = {}

    def image(self, tag: str) -> str:
        return self.registry.image(REPOSITORY, tag)

    def attach(self, digest: str, bundle: dict[str, Any] | bytes) -> None:
        """Attach ``bundle`` to ``digest`` as cosign v3 does (referrers tag schema)."""
        data = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
        self.registry.blobs[digest_of(data)] = data
        manifest = referrer_manifest(data, digest, 100)
        referrer = self.registry.put_manifest(REPOSITORY, manifest)
        self.referrers.setdefault(digest, []).append((referrer, len(manifest)))
        tag = digest.replace(":", "-")
        self.registry.put_manifest(REPOSITORY, referrers_index(self.referrers[digest]), tag)

    def keyless(self, digest: str, **kwargs: Any) -> dict[str, Any]:
        return cosign_v3_bundle(Signing(digest, self.ca, self.log, **kwargs))

    def config(self, **validator: Any) -> Config:
        roots = (
            CosignTrustRoot("ci", keyless=KeylessIdentity(issuer=ISSUER, subject=IDENTITY)),
            CosignTrustRoot("release", public_pem(self.release_key)),
        )
        cosign = CosignValidatorConfig(
            "cosign",
            roots,
            trusted_root=json.dumps(trusted_root(self.ca, self.log)),
            **validator,
        )
        return Config(
            validators=(cosign,), policy=(), cache=CacheConfig(ttl_s=300.0, failure_ttl_s=5.0)
        )


@asynccontextmanager
async def validator_of(world: World) -> AsyncIterator[Driver]:
    async with open_runtime(transport=world.registry.mock_transport()) as runtime:
        validator = build_validators(world.config(), runtime)["cosign"]
        assert isinstance(validator, Driver)  # no cache.redis: not wrapped
        assert isinstance(validator.validator, CosignValidator)
        yield validator


def _image(digest: str) -> Any:
    return parse_image(f"{REGISTRY}/{REPOSITORY}@{digest}")


async def test_a_keyless_bundle_admits_and_the_warm_path_needs_no_request() -> None:
    world = World()
    digest = world.image("v1")
    world.attach(digest, world.keyless(digest))
    async with validator_of(world) as validator:
        options = RuleOptions(trust_root="ci")
        assert await validator.answer(_image(digest), options) == Trusted(digest)
        assert validator.answer_now(_image(digest), options) == Trusted(digest)
    # the referrers API (404: this registry has none), the referrers tag, the referrer
    # manifest, the bundle; the legacy .sig tag (404) asked at the same time as the referrers
    assert len(world.registry.requests) == 5
    assert world.registry.count(".sig") == 1


async def test_a_key_bundle_counts_for_the_key_root_only() -> None:
    world = World()
    digest = world.image("v1")
    signing = Signing(digest, world.ca, world.log, key=world.release_key, keyed=True)
    world.attach(digest, cosign_v3_bundle(signing))
    async with validator_of(world) as validator:
        assert await validator.answer(_image(digest), RuleOptions(trust_root="release")) == (
            Trusted(digest)
        )
        verdict = await validator.answer(_image(digest), RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert "ci (bundle 1: the bundle is signed with a key, the trust root is keyless)" in (
        verdict.reason
    )


async def test_bundle_and_legacy_signatures_count_together() -> None:
    world = World()
    digest = world.image("v1")
    world.attach(digest, world.keyless(digest))
    world.registry.sign(REPOSITORY, digest, world.release_key)
    async with validator_of(world) as validator:
        both = RuleOptions(trust_root="*", verify_in_transparency_log=False)
        assert await validator.answer(_image(digest), both) == Trusted(digest)
        only_bundles = RuleOptions(
            trust_root="*", verify_in_transparency_log=False, signature_formats=("bundle",)
        )
        verdict = await validator.answer(_image(digest), only_bundles)
    assert isinstance(verdict, Untrusted)
    assert verdict.reason.endswith("(tried bundle (referrers tag schema))")
    assert "release (bundle 1: " in verdict.reason


async def test_an_image_without_signatures_names_the_formats_tried() -> None:
    world = World()
    digest = world.image("v1")
    async with validator_of(world) as validator:
        verdict = await validator.answer(_image(digest), RuleOptions(trust_root="ci"))
        legacy = RuleOptions(trust_root="ci", signature_formats=("legacy",))
        legacy_verdict = await validator.answer(_image(digest), legacy)
    hexdigest = digest.removeprefix("sha256:")
    assert verdict == Untrusted(
        f"no cosign signature for {digest} (tried bundle (referrers tag schema), "
        f"legacy (sha256-{hexdigest}.sig): none found)"
    )
    assert legacy_verdict == Untrusted(
        f"no cosign signature for {digest} (tried legacy (sha256-{hexdigest}.sig): none found)"
    )
    assert world.registry.count(f"sha256-{hexdigest}") == 2  # the referrers tag once


async def test_a_referrer_about_another_image_verifies_nothing() -> None:
    world = World()
    digest, other = world.image("v1"), world.image("v2")
    world.attach(digest, world.keyless(other))  # attached to v1, signing v2
    async with validator_of(world) as validator:
        verdict = await validator.answer(_image(digest), RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert f"ci (bundle 1: the in-toto statement is not about {digest})" in verdict.reason


async def test_certificate_extensions_bind_bundles() -> None:
    world = World()
    digest = world.image("v1")
    world.attach(digest, world.keyless(digest))
    pinned = RuleOptions(
        trust_root="ci", certificate_extensions={"githubWorkflowRepository": "my-org/app"}
    )
    other = RuleOptions(
        trust_root="ci", certificate_extensions={"githubWorkflowRepositoryRegex": "my-org/ap"}
    )
    async with validator_of(world) as validator:
        assert await validator.answer(_image(digest), pinned) == Trusted(digest)
        verdict = await validator.answer(_image(digest), other)
    assert isinstance(verdict, Untrusted)
    assert "certificate extension githubWorkflowRepository is 'my-org/app'" in verdict.reason


async def test_thousands_of_referrers_are_read_up_to_the_cap() -> None:
    world = World()
    digest = world.image("v1")
    junk = [(digest_of(b"%d" % number), 10) for number in range(3000)]
    tag = digest.replace(":", "-")
    world.registry.put_manifest(REPOSITORY, referrers_index(junk), tag)
    async with validator_of(world) as validator:
        verdict = await validator.answer(_image(digest), RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert "ci (referrer sha256:" in verdict.reason  # listed, but no such manifest
    assert ": not found)" in verdict.reason
    assert world.registry.count("/manifests/sha256:") == MAX_REFERRERS


@pytest.mark.parametrize("spoil", ["garbage", "tampered"])
async def test_a_broken_bundle_denies_naming_the_bundle(
    spoil: str,
) -> None:
    world = World()
    digest = world.image("v1")
    bundle = world.keyless(digest)
    if spoil == "garbage":
        world.attach(digest, b"{not json")
        expected = "ci (bundle 1: the bundle is not JSON)"
    else:
        bundle["dsseEnvelope"]["signatures"][0]["sig"] = "AAAA"
        world.attach(digest, bundle)
        expected = "ci (bundle 1: the log entry records other DSSE signatures or another signer)"
    async with validator_of(world) as validator:
        verdict = await validator.answer(_image(digest), RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert expected in verdict.reason
