"""The Redis store against Debian's real redis-server on 127.0.0.1 (``tests.harness.redis``).

Two stores on one server stand for two replicas. What is checked: a verdict one writes the
other reads; tampered, copied, garbage and wrongly typed values are ignored and counted; a
dead or silent Redis is a miss within the timeout, and one that comes back is used again
without a new store; the rollback memory only ever rises, atomically, survives forged entries
and stays within its bound; TLS verifies the server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import trio
import trustme

from kenner.admission.image import ImageRef, parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import KeyFile, RedisConfig, RuleOptions, StaticValidatorConfig
from kenner.net.clients import tls_context
from kenner.net.redis_store import RedisSettings, RedisStore, RedisStores
from kenner.validators.shared import SharedVerdicts
from tests.harness import TestbedUnavailable
from tests.harness.redis import RedisServer, start_redis

HMAC_KEY = bytes(range(32))
DIGEST = "sha256:" + "ab" * 32
HOST, GUN = "https://notary.test", "registry.test/team/app"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    try:
        server = start_redis(tmp_path_factory.mktemp("redis"))
    except TestbedUnavailable as unavailable:
        pytest.skip(f"redis-server unavailable: {unavailable}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    if not redis_server.answers():  # a test that stopped it failed before restarting it
        redis_server.start()
    redis_server.command(b"FLUSHALL")
    return redis_server


def redis_config(url: str, **overrides: object) -> RedisConfig:
    return RedisConfig(url=url, hmac_key_file=KeyFile("hmac.key", HMAC_KEY), **overrides)  # type: ignore[arg-type]


@asynccontextmanager
async def open_store(
    url: str, *, context: object = None, **overrides: object
) -> AsyncIterator[RedisStore]:
    async with trio.open_nursery() as nursery:
        stores = RedisStores(nursery)
        stores.use(RedisSettings(redis_config(url, **overrides)), context)  # type: ignore[arg-type]
        assert stores.current is not None
        yield stores.current
        nursery.cancel_scope.cancel()


async def test_a_verdict_one_replica_shares_is_read_by_another(redis: RedisServer) -> None:
    async with open_store(redis.url) as first, open_store(redis.url) as second:
        assert await second.get_verdict("kenner:v1:verdict:x") is None
        await first.put_verdict("kenner:v1:verdict:x", DIGEST, 60)
        shared = await second.get_verdict("kenner:v1:verdict:x")
        assert shared is not None
        assert shared.digest == DIGEST
        assert time.time() + 55 < shared.expires_at <= time.time() + 60
        # Redis forgets it with the verdict's lifetime (PX), capped at cache.redis.ttlSeconds.
        ttl = redis.command(b"PTTL", b"kenner:v1:verdict:x")
        assert ttl is not None
        assert 55_000 < int(ttl[1:].strip()) <= 60_000
        assert second.statistics().rejected == {}


async def test_the_lifetime_is_capped_by_the_configured_ttl(redis: RedisServer) -> None:
    async with open_store(redis.url, ttl_s=0.3) as store:
        await store.put_verdict("kenner:v1:verdict:x", DIGEST, 3600)
        assert await store.get_verdict("kenner:v1:verdict:x") is not None
        await trio.sleep(0.4)
        assert await store.get_verdict("kenner:v1:verdict:x") is None


async def test_a_tampered_value_is_ignored_and_counted(redis: RedisServer) -> None:
    async with open_store(redis.url) as store:
        await store.put_verdict("kenner:v1:verdict:x", DIGEST, 60)
        value = redis.command(b"GET", b"kenner:v1:verdict:x")
        assert value is not None
        raw = value.split(b"\r\n", 1)[1][:-2]
        tampered = raw.replace(b"ab", b"cd", 1)  # another digest, the old MAC
        redis.command(b"SET", b"kenner:v1:verdict:x", tampered)
        assert await store.get_verdict("kenner:v1:verdict:x") is None
        # The genuine value copied under another image's key fails too (the MAC binds the key).
        redis.command(b"SET", b"kenner:v1:verdict:y", raw)
        assert await store.get_verdict("kenner:v1:verdict:y") is None
        assert store.statistics().rejected == {"forged": 2}
        assert store.statistics().up  # Redis answered; the values were bad


async def test_garbage_and_wrong_types_are_misses(redis: RedisServer) -> None:
    async with open_store(redis.url) as store:
        redis.command(b"SET", b"kenner:v1:verdict:g", b"\x00" * 100)
        assert await store.get_verdict("kenner:v1:verdict:g") is None
        assert store.statistics().rejected == {"malformed": 1}
        redis.command(b"HSET", b"kenner:v1:verdict:h", b"field", b"value")
        assert await store.get_verdict("kenner:v1:verdict:h") is None  # WRONGTYPE
        assert store.statistics().errors == {"get": 1}


async def test_a_dead_redis_is_a_miss_and_a_revived_one_is_used_again(
    redis: RedisServer,
) -> None:
    async with open_store(redis.url, timeout_s=0.5) as store:
        redis.stop()
        try:
            started = trio.current_time()
            assert await store.get_verdict("kenner:v1:verdict:x") is None
            await store.put_verdict("kenner:v1:verdict:x", DIGEST, 60)  # paused: no call
            assert await store.raise_versions(HOST, GUN, {"timestamp": 3}) is None
            assert trio.current_time() - started < 2  # 0.5 s timeout, then paused: no wait
            assert not store.statistics().up
            assert store.statistics().errors == {"get": 1}  # one failure, then paused
        finally:
            redis.start()
        await trio.sleep(2.1)  # the pause after a failure
        await store.put_verdict("kenner:v1:verdict:x", DIGEST, 60)
        assert await store.get_verdict("kenner:v1:verdict:x") is not None
        assert store.statistics().up


async def test_a_silent_redis_costs_the_timeout_only() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.SocketStream] = []

    async def accept_and_say_nothing() -> None:
        for listener in listeners:
            held.append(await listener.accept())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_and_say_nothing)
        async with open_store(f"redis://127.0.0.1:{port}/0", timeout_s=0.2) as store:
            started = trio.current_time()
            assert await store.get_verdict("kenner:v1:verdict:x") is None
            assert trio.current_time() - started < 1.5  # the 0.2 s timeout, with slack for load
            assert store.statistics().errors == {"get": 1}
        nursery.cancel_scope.cancel()
    for stream in held:
        await stream.aclose()
    for listener in listeners:
        await listener.aclose()


async def test_the_rollback_memory_only_rises(redis: RedisServer) -> None:
    async with open_store(redis.url) as first, open_store(redis.url) as second:
        assert await first.raise_versions(HOST, GUN, {"timestamp": 5, "snapshot": 3}) == {}
        # Older timestamp: refused with what the authenticated entry vouches for; nothing written.
        assert await second.raise_versions(HOST, GUN, {"timestamp": 4, "snapshot": 9}) == {
            "timestamp": 5
        }
        assert await second.raise_versions(HOST, GUN, {"timestamp": 6, "snapshot": 3}) == {}
        assert await first.raise_versions(HOST, GUN, {"timestamp": 5}) == {"timestamp": 6}
        # Another repository is independent.
        assert await first.raise_versions(HOST, "other/repo", {"timestamp": 1}) == {}


async def test_a_forged_rollback_entry_never_refuses_and_is_removed(redis: RedisServer) -> None:
    async with open_store(redis.url) as store:
        assert await store.raise_versions(HOST, GUN, {"timestamp": 2}) == {}
        key = store._rollback_key(HOST, GUN).encode()
        redis.command(b"HSET", key, b"timestamp", b"999:" + b"0" * 64)  # no valid MAC
        assert await store.raise_versions(HOST, GUN, {"timestamp": 3}) == {}
        assert store.statistics().rejected == {"forged": 1}
        # The forged entry is gone and the genuine version recorded.
        assert await store.raise_versions(HOST, GUN, {"timestamp": 2}) == {"timestamp": 3}


async def test_the_shared_rollback_memory_is_bounded(redis: RedisServer) -> None:
    async with open_store(redis.url, max_repositories=2) as store:
        for gun in ("a", "b", "c"):
            assert await store.raise_versions(HOST, gun, {"timestamp": 5}) == {}
        first = store._rollback_key(HOST, "a").encode()
        assert redis.command(b"EXISTS", first) == b":0\r\n"  # the least recent went first
        assert redis.command(b"ZCARD", b"kenner:v1:rollback:index") == b":2\r\n"
        assert await store.raise_versions(HOST, "c", {"timestamp": 4}) == {"timestamp": 5}


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, str]]:
    directory = tmp_path_factory.mktemp("redis-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = directory / "chain.pem", directory / "key.pem", directory / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        server = start_redis(directory / "state", tls=(chain, key, ca_file))
    except TestbedUnavailable as unavailable:
        pytest.skip(f"redis-server unavailable: {unavailable}")
    try:
        yield server, ca.cert_pem.bytes().decode()
    finally:
        server.stop()


async def test_rediss_verifies_the_server_against_the_configured_ca(
    tls_redis: tuple[RedisServer, str],
) -> None:
    server, ca_pem = tls_redis
    async with open_store(server.url, context=tls_context(ca_pem)) as store:
        await store.put_verdict("kenner:v1:verdict:tls", DIGEST, 60)
        shared = await store.get_verdict("kenner:v1:verdict:tls")
        assert shared is not None
        assert shared.digest == DIGEST
    # Another CA: the handshake fails, which is a miss.
    async with open_store(
        server.url, context=tls_context(trustme.CA().cert_pem.bytes().decode())
    ) as store:
        assert await store.get_verdict("kenner:v1:verdict:tls") is None
        assert store.statistics().errors == {"get": 1}


class _Counting:
    """A validator that counts its validations and answers a fixed verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.validations = 0

    @property
    def name(self) -> str:
        return "counting"

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: object = None
    ) -> Verdict | None:
        return None

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: object = None
    ) -> Verdict:
        self.validations += 1
        return self.verdict


def _replica(
    verdict: Verdict, stores: RedisStores, nursery: trio.Nursery, config: object = "config-a"
) -> tuple[SharedVerdicts, _Counting]:
    inner = _Counting(verdict)
    validator_config = StaticValidatorConfig(name="counting", approve=True)
    if config != "config-a":
        validator_config = StaticValidatorConfig(name="counting", approve=False)
    shared = SharedVerdicts(inner, validator_config, stores, nursery, memo_ttl_s=60)
    return shared, inner


async def _until_shared(redis: RedisServer) -> None:
    with trio.fail_after(5):
        for _ in iter(int, 1):  # until the write lands (or fail_after)
            if redis.command(b"DBSIZE") != b":0\r\n":
                return
            await trio.sleep(0.01)


async def test_the_second_replica_answers_from_the_first_ones_verdict(redis: RedisServer) -> None:
    image, options = parse_image("registry.test/app:1"), RuleOptions()
    async with trio.open_nursery() as nursery:
        stores = [RedisStores(nursery) for _ in range(2)]
        for holder in stores:
            holder.use(RedisSettings(redis_config(redis.url)), None)
        first, first_inner = _replica(Trusted(DIGEST), stores[0], nursery)
        second, second_inner = _replica(Trusted(DIGEST), stores[1], nursery)
        assert await first.answer(image, options) == Trusted(DIGEST)
        await _until_shared(redis)  # written in the background, after the answer
        assert second.answer_now(image, options) is None  # Redis only on a local miss
        assert await second.answer(image, options) == Trusted(DIGEST)
        assert (first_inner.validations, second_inner.validations) == (1, 0)
        # Now a local hit: no Redis round trip.
        assert second.answer_now(image, options) == Trusted(DIGEST)
        # Another rule (options) or another validator configuration reads another key.
        other_rule = RuleOptions(delegations=("targets/releases",))
        assert await second.answer(image, other_rule) == Trusted(DIGEST)
        assert second_inner.validations == 1
        changed, changed_inner = _replica(Trusted(DIGEST), stores[1], nursery, config="config-b")
        await changed.answer(image, options)
        assert changed_inner.validations == 1
        nursery.cancel_scope.cancel()


async def test_denials_are_not_shared_and_redis_down_is_plain_validation(
    redis: RedisServer,
) -> None:
    image, options = parse_image("registry.test/app:1"), RuleOptions()
    async with trio.open_nursery() as nursery:
        holder = RedisStores(nursery)
        holder.use(RedisSettings(redis_config(redis.url, timeout_s=0.3)), None)
        denying, _ = _replica(Untrusted("not signed"), holder, nursery)
        assert await denying.answer(image, options) == Untrusted("not signed")
        await trio.sleep(0.1)
        assert redis.command(b"DBSIZE") == b":0\r\n"
        allowing, inner = _replica(Trusted(DIGEST), holder, nursery)
        redis.stop()
        try:
            assert await allowing.answer(image, options) == Trusted(DIGEST)
            assert await allowing.answer(image, options) == Trusted(DIGEST)
            assert inner.validations == 2  # no memo from a write that failed
        finally:
            redis.start()
        nursery.cancel_scope.cancel()


async def test_a_huge_planted_value_costs_a_bounded_read(redis: RedisServer) -> None:
    async with open_store(redis.url) as store:
        redis.command(b"SET", b"kenner:v1:verdict:big", b"k1" + b"x" * 5_000_000)
        assert await store.get_verdict("kenner:v1:verdict:big") is None
        assert store.statistics().rejected == {"malformed": 1}


async def test_an_oversized_rollback_entry_counts_as_absent_and_is_overwritten(
    redis: RedisServer,
) -> None:
    async with open_store(redis.url) as store:
        key = store._rollback_key(HOST, GUN).encode()
        redis.command(b"HSET", key, b"timestamp", b"9" * 5000 + b":" + b"0" * 64)
        assert await store.raise_versions(HOST, GUN, {"timestamp": 3}) == {}
        assert await store.raise_versions(HOST, GUN, {"timestamp": 2}) == {"timestamp": 3}
        assert store.statistics().rejected == {}


async def test_a_reload_keeps_the_store_of_unchanged_settings_and_replaces_a_changed_one() -> None:
    async with trio.open_nursery() as nursery:
        stores = RedisStores(nursery)
        seen = []
        for settings in (
            RedisSettings(redis_config("redis://127.0.0.1:1/0")),
            RedisSettings(redis_config("redis://127.0.0.1:1/0")),  # equal: kept
            RedisSettings(redis_config("redis://127.0.0.1:1/0", prefix="other:")),
            None,
        ):
            stores.use(settings, None)
            seen.append(stores.current)
        assert seen[0] is seen[1]
        assert seen[2] is not None
        assert seen[2] is not seen[1]
        assert seen[3] is None
        nursery.cancel_scope.cancel()
