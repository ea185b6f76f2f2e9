"""The notaryv1 validator's ``SharedVersions`` need: the replicas' rollback memory.

A real (fake) Notary on loopback serves really signed trust data; the shared memory is a
stand-in function (the Redis behind it is tested in tests/integration/test_redis_store.py
and end to end in test_redis_replicas.py). What the validator must do with its answer: refuse
data older than another replica verified, remember that locally, and decide alone (by its
own memory) when the shared memory could not be asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest
import trio

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted
from kenner.config.model import RuleOptions
from kenner.net.http import Fetcher
from kenner.validators.needs import SharedVersions
from tests.loopback.servers import RunningServer, serve_https
from tests.support.fake_notary import FakeNotary, notary_validator
from tests.unit.tuf.builder import RepositoryBuilder

GUN = "registry.kenner.test/team/app"
IMAGE = parse_image(f"{GUN}:v1")


class Shared:
    """A stand-in for the shared memory: records what it was asked, answers ``answer``."""

    def __init__(self) -> None:
        self.asked: list[SharedVersions] = []
        self.answer: Mapping[str, int] | None = {}

    async def __call__(self, need: SharedVersions) -> Mapping[str, int] | None:
        self.asked.append(need)
        return self.answer


@pytest.fixture
async def served() -> AsyncIterator[tuple[RunningServer, Fetcher, str, trio.Nursery]]:
    builder = RepositoryBuilder(gun=GUN)
    builder.add_target("v1", b"signed manifest")
    notary = FakeNotary(GUN)
    notary.publish(builder.build())
    async with (
        serve_https(notary) as server,
        Fetcher(ca_pem=server.ca_pem) as fetcher,
        trio.open_nursery() as nursery,
    ):
        yield server, fetcher, builder.root_key.pem(), nursery
        nursery.cancel_scope.cancel()


async def test_versions_another_replica_verified_refuse_older_data_and_are_remembered(
    served: tuple[RunningServer, Fetcher, str, trio.Nursery],
) -> None:
    server, fetcher, root_pem, nursery = served
    shared = Shared()
    validator = notary_validator(
        server.base_url,
        root_pem,
        fetcher=fetcher,
        nursery=nursery,
        cache_ttl_s=0.0,
        shared_versions=shared,
    )
    assert isinstance(await validator.answer(IMAGE, RuleOptions()), Trusted)
    (asked,) = shared.asked
    assert (asked.host, asked.gun) == (server.base_url, GUN)
    assert dict(asked.versions).keys() == {"root", "timestamp", "snapshot", "targets"}
    timestamp = dict(asked.versions)["timestamp"]

    shared.answer = {"timestamp": timestamp + 1}
    verdict = await validator.answer(IMAGE, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert verdict.reason.startswith("rollback: timestamp of")
    assert verdict.reason.endswith(
        f"version {timestamp + 1} was verified before (by another replica)"
    )

    # Redis gone: the process's own memory, raised by the replica's word, still refuses.
    shared.answer = None
    verdict = await validator.answer(IMAGE, RuleOptions())
    assert isinstance(verdict, Untrusted)
    assert verdict.reason.endswith(f"version {timestamp + 1} was verified before")


async def test_without_shared_memory_the_validator_decides_alone(
    served: tuple[RunningServer, Fetcher, str, trio.Nursery],
) -> None:
    server, fetcher, root_pem, nursery = served
    shared = Shared()
    shared.answer = None  # no Redis configured, or unreachable
    validator = notary_validator(
        server.base_url, root_pem, fetcher=fetcher, nursery=nursery, shared_versions=shared
    )
    assert isinstance(await validator.answer(IMAGE, RuleOptions()), Trusted)
    assert len(shared.asked) == 1
    # No shared memory at all (the default): the same verdict.
    alone = notary_validator(server.base_url, root_pem, fetcher=fetcher, nursery=nursery)
    assert isinstance(await alone.answer(IMAGE, RuleOptions()), Trusted)
