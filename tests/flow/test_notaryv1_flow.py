"""The notaryv1 validator's concurrency and deadlines on trio's virtual clock.

A builder-signed repository is served by ``FakeNotary`` through ``httpx.MockTransport``, so
every fetch takes exactly the time the test scripts (``FakeNotary.delays``) and times can be
asserted exactly with ``trio.current_time()``. The validator is built the way the daemon
builds it (``open_runtime`` + ``build_validators``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import (
    CacheConfig,
    Config,
    Deadlines,
    NotaryV1ValidatorConfig,
    RuleOptions,
    TrustRoot,
)
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.driver import Driven
from tests.support.fake_notary import FakeNotary
from tests.unit.tuf.builder import RepositoryBuilder, generate_key

GUN = "registry.kenner.test/team/app"
IMAGE = parse_image(f"{GUN}:v1")
NOTARY = "https://notary.kenner.test"
TOP_LEVEL = {"root", "timestamp", "snapshot", "targets"}
FETCH_S = 2.0
REQUEST_S = 8.0
CACHE_TTL_S = 300.0


@attrs.frozen
class Repository:
    """What the fake Notary serves, the root key to pin, and the digest to expect."""

    notary: FakeNotary
    pin_pem: str
    digest: str


def repository(*, delegate_releases: bool = False, rotate_root: bool = False) -> Repository:
    builder = RepositoryBuilder(gun=GUN)
    pin_pem = builder.root_key.pem()  # after a rotation the chain must lead from this key
    if rotate_root:
        builder.rotate_root([generate_key("ecdsa-x509", GUN)])
    if delegate_releases:
        builder.delegate("targets/releases", [generate_key("ecdsa")])
    role = "targets/releases" if delegate_releases else "targets"
    digest = builder.add_target("v1", b"signed manifest", role=role)
    notary = FakeNotary(GUN)
    notary.publish(builder.build())
    return Repository(notary, pin_pem, digest)


@asynccontextmanager
async def opened_validator(served: Repository) -> AsyncIterator[Driven]:
    """The daemon's validator for ``served``, on a runtime whose network is the fake Notary."""
    config = Config(
        validators=(
            NotaryV1ValidatorConfig("notary", NOTARY, (TrustRoot("default", served.pin_pem),)),
        ),
        policy=(),
        deadlines=Deadlines(request_s=REQUEST_S, fetch_s=FETCH_S),
        cache=CacheConfig(ttl_s=CACHE_TTL_S),
    )
    async with open_runtime(transport=served.notary.mock_transport()) as runtime:
        yield build_validators(config, runtime)["notary"]


@pytest.fixture
def served() -> Repository:
    return repository()


@pytest.fixture
async def validator(served: Repository) -> AsyncIterator[Driven]:
    async with opened_validator(served) as opened:
        yield opened


async def validate(validator: Driven, options: RuleOptions | None = None) -> Verdict:
    return await validator.answer(IMAGE, options or RuleOptions())


def delay_all(notary: FakeNotary, seconds: float, roles: Sequence[str]) -> None:
    notary.delays.update(dict.fromkeys(roles, seconds))


async def test_a_slow_role_is_denied_exactly_at_the_fetch_deadline(
    autojump_clock: trio.testing.MockClock, served: Repository, validator: Driven
) -> None:
    served.notary.delays["snapshot"] = 60.0
    start = trio.current_time()
    verdict = await validate(validator)
    assert trio.current_time() - start == FETCH_S
    assert verdict == Untrusted(
        f"trust data unavailable: {NOTARY}/v2/{GUN}/_trust/tuf/snapshot.json: "
        f"no answer within {FETCH_S:g} s"
    )


async def test_a_failing_role_cancels_its_slow_siblings(
    autojump_clock: trio.testing.MockClock, served: Repository, validator: Driven
) -> None:
    delay_all(served.notary, 1.5, ["root", "snapshot", "targets"])
    served.notary.delays["timestamp"] = 0.5
    served.notary.statuses["timestamp"] = 500
    start = trio.current_time()
    verdict = await validate(validator)
    # The verdict comes with the failure, not when the slower fetches would have answered.
    assert trio.current_time() - start == 0.5
    assert verdict == Untrusted(
        f"trust data unavailable: {NOTARY}/v2/{GUN}/_trust/tuf/timestamp.json: "
        "unexpected HTTP status 500"
    )
    assert served.notary.rounds() == [TOP_LEVEL]


async def test_200_concurrent_validations_fetch_each_role_once(
    autojump_clock: trio.testing.MockClock, served: Repository, validator: Driven
) -> None:
    delay_all(served.notary, 1.0, sorted(TOP_LEVEL))
    verdicts: list[Verdict] = []

    async def one() -> None:
        verdicts.append(await validate(validator))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(200):
            nursery.start_soon(one)
    assert trio.current_time() - start == 1.0  # they all waited for the one shared load
    assert verdicts == [Trusted(served.digest)] * 200
    assert {role: served.notary.fetches(role) for role in TOP_LEVEL} == dict.fromkeys(TOP_LEVEL, 1)


async def test_a_cold_validation_fetches_in_one_round_and_warm_ones_not_at_all(
    autojump_clock: trio.testing.MockClock, served: Repository, validator: Driven
) -> None:
    delay_all(served.notary, 1.0, sorted(TOP_LEVEL))
    start = trio.current_time()
    assert await validate(validator) == Trusted(served.digest)
    assert trio.current_time() - start == 1.0  # four fetches of 1 s each, concurrently
    assert served.notary.rounds() == [TOP_LEVEL]

    for _ in range(3):
        assert await validate(validator) == Trusted(served.digest)
    assert trio.current_time() - start == 1.0
    assert len(served.notary.requests) == 4

    # Once the cached trust data has lived its configured lifetime, it is fetched again.
    await trio.sleep(CACHE_TTL_S)
    assert await validate(validator) == Trusted(served.digest)
    assert len(served.notary.requests) == 8


async def test_a_published_releases_delegation_takes_exactly_two_rounds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    served = repository(delegate_releases=True)
    delay_all(served.notary, 1.0, [*TOP_LEVEL, "targets/releases"])
    async with opened_validator(served) as validator:
        start = trio.current_time()
        assert await validate(validator) == Trusted(served.digest)
        assert trio.current_time() - start == 2.0
    assert served.notary.rounds() == [TOP_LEVEL, {"targets/releases"}]


async def test_a_rotated_root_adds_one_round_for_the_versioned_roots(
    autojump_clock: trio.testing.MockClock,
) -> None:
    served = repository(delegate_releases=True, rotate_root=True)
    delay_all(served.notary, 1.0, [*TOP_LEVEL, "1.root", "targets/releases"])
    async with opened_validator(served) as validator:
        start = trio.current_time()
        assert await validate(validator) == Trusted(served.digest)
        assert trio.current_time() - start == 3.0
    assert served.notary.rounds() == [TOP_LEVEL, {"1.root"}, {"targets/releases"}]
