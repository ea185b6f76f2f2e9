"""cached_verdict of the notaryv1 and cosign validators: validate's verdict, from the caches.

Each validator is built the way the daemon builds it (``open_runtime`` + ``build_validators``)
on an in-memory server: ``FakeNotary`` for Notary v1, ``FakeRegistry`` for cosign. A first
``validate`` fills the caches; then ``cached_verdict`` and a second ``validate`` see the same
cache state and must agree, without a request. When an entry has expired the fast path has no
answer (None) and ``validate`` loads again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from kenner.admission.image import ImageRef, parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import (
    CacheConfig,
    Config,
    CosignTrustRoot,
    CosignValidatorConfig,
    NotaryV1ValidatorConfig,
    RuleOptions,
    TrustRoot,
)
from kenner.net.cache import CacheStatistics
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.cosign import CosignValidator
from kenner.validators.driver import Driver
from kenner.validators.notaryv1 import NotaryV1Validator
from tests.support.signed_servers import GUN, NOTARY, REGISTRY, SignedNotary, SignedRegistry

TTL_S = 300.0
FAILURE_TTL_S = 5.0
# Legacy signatures only: the timings below count the .sig round trip alone.
NO_TLOG = RuleOptions(verify_in_transparency_log=False, signature_formats=("legacy",))


def _config(validator: NotaryV1ValidatorConfig | CosignValidatorConfig) -> Config:
    return Config(
        validators=(validator,),
        policy=(),
        cache=CacheConfig(ttl_s=TTL_S, failure_ttl_s=FAILURE_TTL_S),
    )


async def same_verdict_warm(validator: Driver, image: ImageRef, options: RuleOptions) -> Verdict:
    """Fill the caches with ``validate``, then compare the fast path with ``validate``."""
    await validator.answer(image, options)
    cached = validator.answer_now(image, options)
    assert cached is not None, "the fast path did not answer a warm image"
    assert await validator.answer(image, options) == cached
    return cached


# Notary v1


@asynccontextmanager
async def notary_validator(notary: SignedNotary) -> AsyncIterator[Driver]:
    config = _config(
        NotaryV1ValidatorConfig("notary", NOTARY, (TrustRoot("default", notary.pin_pem),))
    )
    async with open_runtime(transport=notary.server.mock_transport()) as runtime:
        validator = build_validators(config, runtime)["notary"]
        assert isinstance(validator, Driver)  # no cache.redis: not wrapped
        assert isinstance(validator.validator, NotaryV1Validator)
        yield validator


@pytest.mark.parametrize(
    ("reference", "options", "expected_reason"),
    [
        (":v1", RuleOptions(), None),
        (":v2", RuleOptions(), "tag_not_signed"),
        ("@sha256:" + "0" * 64, RuleOptions(), "digest_not_signed"),
        (":v1", RuleOptions(delegations=("targets/releases",)), "delegation_not_signed"),
    ],
)
async def test_notary_cached_verdict_is_validates(
    autojump_clock: trio.testing.MockClock,
    reference: str,
    options: RuleOptions,
    expected_reason: str | None,
) -> None:
    notary = SignedNotary()
    async with notary_validator(notary) as validator:
        verdict = await same_verdict_warm(validator, parse_image(GUN + reference), options)
        if expected_reason is None:
            assert verdict == Trusted(notary.digest)
        else:
            assert isinstance(verdict, Untrusted)
            assert verdict.reason.startswith(expected_reason), verdict.reason
    assert len(notary.server.requests) == 4  # the cold load only (no delegation is published)


async def test_notary_fast_path_counts_a_hit_and_its_misses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    notary = SignedNotary()
    image = parse_image(f"{GUN}:v1")
    async with notary_validator(notary) as validator:
        assert validator.answer_now(image, RuleOptions()) is None
        assert validator.cache_statistics() == CacheStatistics(0, 0, 0, 0, 0)
        await validator.answer(image, RuleOptions())
        assert validator.answer_now(image, RuleOptions()) == Trusted(notary.digest)
        assert validator.cache_statistics() == CacheStatistics(
            hits=1, failure_hits=0, misses=1, evictions=0, size=1
        )


async def test_notary_remembered_failure_is_answered_like_validate_until_it_expires(
    autojump_clock: trio.testing.MockClock,
) -> None:
    notary = SignedNotary()
    notary.server.statuses["timestamp"] = 500
    image = parse_image(f"{GUN}:v1")
    async with notary_validator(notary) as validator:
        verdict = await same_verdict_warm(validator, image, RuleOptions())
        assert verdict == Untrusted(
            f"trust data unavailable: {NOTARY}/v2/{GUN}/_trust/tuf/timestamp.json: "
            "unexpected HTTP status 500"
        )
        assert validator.cache_statistics().failure_hits == 2
        await trio.sleep(FAILURE_TTL_S)
        assert validator.answer_now(image, RuleOptions()) is None


async def test_notary_expired_trust_data_has_no_cached_verdict(
    autojump_clock: trio.testing.MockClock,
) -> None:
    notary = SignedNotary()
    image = parse_image(f"{GUN}:v1")
    async with notary_validator(notary) as validator:
        await validator.answer(image, RuleOptions())
        await trio.sleep(TTL_S - 0.001)
        assert validator.answer_now(image, RuleOptions()) == Trusted(notary.digest)
        await trio.sleep(0.001)
        assert validator.answer_now(image, RuleOptions()) is None
        assert await validator.answer(image, RuleOptions()) == Trusted(notary.digest)
    assert len(notary.server.requests) == 8


async def test_notary_unknown_trust_root_needs_no_cache(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with notary_validator(SignedNotary()) as validator:
        options = RuleOptions(trust_root="nobody")
        verdict = validator.answer_now(parse_image(f"{GUN}:v1"), options)
        assert verdict == Untrusted("notaryv1 validator 'notary' has no trust root 'nobody'")
        assert await validator.answer(parse_image(f"{GUN}:v1"), options) == verdict


# Cosign


@asynccontextmanager
async def cosign_validator(registry: SignedRegistry) -> AsyncIterator[Driver]:
    root = CosignTrustRoot("default", registry.public_pem)
    config = _config(CosignValidatorConfig("cosign", (root,)))
    async with open_runtime(transport=registry.server.mock_transport()) as runtime:
        validator = build_validators(config, runtime)["cosign"]
        assert isinstance(validator, Driver)  # no cache.redis: not wrapped
        assert isinstance(validator.validator, CosignValidator)
        yield validator


async def test_cosign_cached_verdicts_are_validates() -> None:
    registry = SignedRegistry()
    app = f"{REGISTRY}/team/app"
    async with cosign_validator(registry) as validator:
        by_tag = await same_verdict_warm(validator, parse_image(f"{app}:signed"), NO_TLOG)
        assert by_tag == Trusted(registry.signed)
        by_digest = parse_image(f"{app}@{registry.signed}")
        assert await same_verdict_warm(validator, by_digest, NO_TLOG) == by_tag
        unsigned = await same_verdict_warm(validator, parse_image(f"{app}:unsigned"), NO_TLOG)
        assert isinstance(unsigned, Untrusted)
        assert unsigned.reason.startswith(f"no cosign signature for {registry.unsigned}")
        foreign = await same_verdict_warm(validator, parse_image(f"{app}:foreign"), NO_TLOG)
        assert isinstance(foreign, Untrusted)
        assert foreign.reason.startswith(f"signatures on {registry.foreign}: ")
        platform = parse_image(f"{app}:multi@{registry.platform}")
        from_index = RuleOptions(verify_in_transparency_log=False, platform_from_index=True)
        assert await same_verdict_warm(validator, platform, from_index) == Trusted(
            registry.platform
        )
        refused = await same_verdict_warm(validator, platform, NO_TLOG)
        assert isinstance(refused, Untrusted)
        unknown_root = RuleOptions(trust_root="nobody", verify_in_transparency_log=False)
        assert validator.answer_now(by_digest, unknown_root) == Untrusted(
            "cosign validator 'cosign': trust root 'nobody' is not configured"
        )
        before = list(registry.server.requests)
        for image in (f"{app}:signed", f"{app}@{registry.signed}", f"{app}:unsigned"):
            assert validator.answer_now(parse_image(image), NO_TLOG) is not None
        assert registry.server.requests == before


async def test_cosign_remembered_failure_is_answered_like_validate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = SignedRegistry()
    image = parse_image(f"{REGISTRY}/team/app:missing")
    async with cosign_validator(registry) as validator:
        verdict = await same_verdict_warm(validator, image, NO_TLOG)
        assert isinstance(verdict, Untrusted)
        assert verdict.reason == (
            f"registry error: {REGISTRY}/team/app:missing: the image does not exist"
        )
        assert registry.server.count("/manifests/missing") == 1
        await trio.sleep(FAILURE_TTL_S)
        assert validator.answer_now(image, NO_TLOG) is None


async def test_cosign_expired_entries_have_no_cached_verdict(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = SignedRegistry()
    registry.server.delay_s = 1.0  # the tag is cached 1 s before the signatures
    image = parse_image(f"{REGISTRY}/team/app:signed")
    async with cosign_validator(registry) as validator:
        assert validator.answer_now(image, NO_TLOG) is None
        await validator.answer(image, NO_TLOG)
        await trio.sleep(TTL_S - 1.0 - 0.001)
        assert validator.answer_now(image, NO_TLOG) == Trusted(registry.signed)
        await trio.sleep(0.001)  # the tag's resolution expires; its signatures are still cached
        assert validator.answer_now(image, NO_TLOG) is None
        registry.server.delay_s = 0.0  # so that the signatures are still cached when needed
        assert await validator.answer(image, NO_TLOG) == Trusted(registry.signed)
    assert registry.server.count("/manifests/signed") == 2
    assert registry.server.count(".sig") == 1
