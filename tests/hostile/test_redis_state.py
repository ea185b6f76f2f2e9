"""Hostile review of the shared state in Redis (issue 14): verdicts and rollback memory.

An attacker here is a namespace whose pull secret differs from another's, someone who can write
to Redis (without the HMAC key), or an operator change (key rotation, policy change) that old
values must not survive. Every test runs a real ``redis-server`` on loopback (skipped without
one) and kenner's real ``SharedVerdicts`` / ``RedisStore``; the validator behind them is a
small one that allows only what its login can read, as a registry would.

Holes found and fixed:

* The shared verdict's key left out the pull-secret login, so a verdict reached with namespace
  A's login (which can read a private repository) was served to namespace B, whose login the
  registry refuses: B was admitted with the private image's digest pinned, where without Redis
  it is denied (the in-process caches are per login).
* A verdict of a rule with an attestation ``maxAge`` was shared for ``ttlSeconds``, so it was
  admitted after the attestation had grown too old, where docs/attestations.md promises that
  ``maxAge`` is measured at each admission.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from kenner.admission.image import ImageRef, parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.config.model import KeyFile, RedisConfig, RuleOptions, StaticValidatorConfig
from kenner.net.redis_store import RedisSettings, RedisStore, RedisStores
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins
from kenner.sharing import SharedVerdict, encode_verdict, login_id, verdict_key
from kenner.validators.shared import SharedVerdicts
from tests.harness import TestbedUnavailable
from tests.harness.redis import RedisServer, start_redis

HMAC_KEY = bytes(range(32))
ROTATED_KEY = bytes(range(32, 64))
DIGEST = "sha256:" + "ab" * 32
PRIVATE = "registry.test/team-a/private:1"
TEAM_A = RegistryLogins({"registry.test": RegistryLogin("team-a", "secret-a")})
TEAM_B = RegistryLogins({"registry.test": RegistryLogin("team-b", "secret-b")})


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
    if not redis_server.answers():
        redis_server.start()
    redis_server.command(b"FLUSHALL")
    return redis_server


def _settings(url: str, key: bytes = HMAC_KEY) -> RedisSettings:
    # A generous call timeout: on a loaded machine a 0.25 s miss would look like a hole.
    config = RedisConfig(url=url, hmac_key_file=KeyFile("hmac.key", key), timeout_s=5.0)
    return RedisSettings(config)


class _PrivateRegistry:
    """Allows ``PRIVATE`` only for team A's login, as a registry that refuses B would."""

    def __init__(self) -> None:
        self.validations = 0

    @property
    def name(self) -> str:
        return "private"

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        return None

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        self.validations += 1
        login = None if pull_logins is None else pull_logins.for_image(image.registry, "")
        if login is not None and login.username == "team-a":
            return Trusted(DIGEST)
        return Untrusted("registry error: 401 unauthorized")


def _replica(stores: RedisStores, nursery: trio.Nursery) -> tuple[SharedVerdicts, _PrivateRegistry]:
    inner = _PrivateRegistry()
    config = StaticValidatorConfig(name="private", approve=True)
    return SharedVerdicts(inner, config, stores, nursery, memo_ttl_s=60), inner


async def _until_written(redis: RedisServer) -> None:
    with trio.fail_after(5):
        for _ in iter(int, 1):  # until the background write lands (or fail_after)
            if redis.command(b"DBSIZE") != b":0\r\n":
                return
            await trio.sleep(0.01)


async def test_a_verdict_reached_with_one_namespace_login_is_not_served_to_another(
    redis: RedisServer,
) -> None:
    """Hole: the verdict key had no login in it; B was admitted on A's pull secret."""
    image, options = parse_image(PRIVATE), RuleOptions()
    async with trio.open_nursery() as nursery:
        stores = [RedisStores(nursery) for _ in range(2)]
        for holder in stores:
            holder.use(_settings(redis.url), None)
        first, _ = _replica(stores[0], nursery)
        second, second_inner = _replica(stores[1], nursery)
        assert await first.answer(image, options, TEAM_A) == Trusted(DIGEST)
        await _until_written(redis)
        # Namespace B on another replica: its own login decides, as without Redis.
        assert await second.answer(image, options, TEAM_B) == Untrusted(
            "registry error: 401 unauthorized"
        )
        assert second_inner.validations == 1
        # and on the replica that memoised A's verdict, neither the memo nor Redis answers B.
        assert first.answer_now(image, options, TEAM_B) is None
        assert first.answer_now(image, options, None) is None
        # The same login still shares (team A on the second replica).
        assert await second.answer(image, options, TEAM_A) == Trusted(DIGEST)
        assert second_inner.validations == 1
        nursery.cancel_scope.cancel()


async def test_the_login_in_the_key_is_not_a_plain_hash_of_the_password(
    redis: RedisServer,
) -> None:
    """Whoever reads Redis keys must not get a way to test password guesses offline: the login
    enters the key through the HMAC key, so keys differ across HMAC keys for the same login."""
    image, options = parse_image(PRIVATE), RuleOptions()
    keys = []
    for key in (HMAC_KEY, ROTATED_KEY):
        redis.command(b"FLUSHALL")
        async with trio.open_nursery() as nursery:
            holder = RedisStores(nursery)
            holder.use(_settings(redis.url, key), None)
            replica, _ = _replica(holder, nursery)
            await replica.answer(image, options, TEAM_A)
            await _until_written(redis)
            keys.append(redis.command(b"KEYS", b"*"))
            nursery.cancel_scope.cancel()
    assert keys[0] != keys[1]


async def test_a_value_written_under_the_old_hmac_key_is_ignored_after_rotation(
    redis: RedisServer,
) -> None:
    image, options = parse_image(PRIVATE), RuleOptions()
    async with trio.open_nursery() as nursery:
        old, new = RedisStores(nursery), RedisStores(nursery)
        old.use(_settings(redis.url), None)
        new.use(_settings(redis.url, ROTATED_KEY), None)
        writer, _ = _replica(old, nursery)
        assert await writer.answer(image, options, TEAM_A) == Trusted(DIGEST)
        await _until_written(redis)
        # Copy the old replica's value under every key the rotated replica could read: none is
        # accepted, the rotated replica validates itself (and B is refused by the registry).
        reader, inner = _replica(new, nursery)
        assert await reader.answer(image, options, TEAM_B) == Untrusted(
            "registry error: 401 unauthorized"
        )
        assert inner.validations == 1
        nursery.cancel_scope.cancel()


async def test_a_validly_signed_value_copied_under_another_key_is_refused(
    redis: RedisServer,
) -> None:
    """A value is bound to its Redis key: replaying it under the key of another image, rule or
    login (someone who can write Redis but has no HMAC key) is 'forged'."""
    async with trio.open_nursery() as nursery:
        holder = RedisStores(nursery)
        holder.use(_settings(redis.url), None)
        store = holder.current
        assert isinstance(store, RedisStore)
        genuine = encode_verdict(HMAC_KEY, "kenner:v1:verdict:aaaa", SharedVerdict(DIGEST, 2e9))
        redis.command(b"SET", b"kenner:v1:verdict:bbbb", genuine)
        assert await store.get_verdict("kenner:v1:verdict:bbbb") is None
        assert store.statistics().rejected == {"forged": 1}
        nursery.cancel_scope.cancel()


async def test_a_rule_with_max_age_is_judged_at_every_admission_not_shared(
    redis: RedisServer,
) -> None:
    """Hole: a verdict whose attestation passed ``maxAge`` was shared for ``ttlSeconds``, so
    other replicas (and this one's memo) admitted it after the attestation grew too old,
    although docs/attestations.md says maxAge is measured at each admission."""
    image = parse_image(PRIVATE)
    max_age = parse_condition({"path": "/predicate/scannedOn", "maxAge": "1d"})
    rule = AttestationRule("https://example.com/scan/v1", "default", (max_age,))
    options = RuleOptions(attestations=(rule,))
    async with trio.open_nursery() as nursery:
        holder = RedisStores(nursery)
        holder.use(_settings(redis.url), None)
        replica, inner = _replica(holder, nursery)
        assert await replica.answer(image, options, TEAM_A) == Trusted(DIGEST)
        await trio.sleep(0.2)  # a background write would have landed by now
        assert redis.command(b"DBSIZE") == b":0\r\n"
        assert replica.answer_now(image, options, TEAM_A) is None
        assert await replica.answer(image, options, TEAM_A) == Trusted(DIGEST)
        assert inner.validations == 2
        # A rule without a clock-dependent condition is still shared.
        fixed = parse_condition({"path": "/predicate/scanner", "equals": "trivy"})
        steady = RuleOptions(
            attestations=(AttestationRule(rule.predicate_type, "default", (fixed,)),)
        )
        assert await replica.answer(image, steady, TEAM_A) == Trusted(DIGEST)
        await _until_written(redis)
        nursery.cancel_scope.cancel()


def test_the_verdict_key_names_the_login_keyed_by_the_hmac_key() -> None:
    def key(login: str | None) -> str:
        return verdict_key(
            "kenner:",
            reference=PRIVATE,
            validator="v",
            config_fingerprint="c",
            options_fingerprint="o",
            login_id=login,
        )

    a = login_id(HMAC_KEY, "team-a", "secret-a")
    assert a == login_id(HMAC_KEY, "team-a", "secret-a")
    assert a != login_id(HMAC_KEY, "team-a", "secret-b")  # a rotated password is another login
    assert a != login_id(HMAC_KEY, "team-b", "secret-a")
    assert a != login_id(ROTATED_KEY, "team-a", "secret-a")
    # ["a:b", "c"] and ["a", "b:c"] are two logins, not one string.
    assert login_id(HMAC_KEY, "a:b", "c") != login_id(HMAC_KEY, "a", "b:c")
    assert len({key(None), key(a), key(login_id(HMAC_KEY, "team-b", "secret-b"))}) == 3
