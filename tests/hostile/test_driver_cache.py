"""Hostile review of the driver's cache (``kenner.validators.driver``): whether a fact, a derived
signer set or a failure gathered with one namespace's pull-secret login is ever served to
another namespace, and whether a failure an attacker provokes can be cached as an allow.

The validator is the real Notation step (it puts the login into every need) on a real driver,
with the scripted registry of ``tests.flow.test_notation_flow``: it serves team A's login and
refuses every other (a private repository). Virtual time. No hole was found here; the tests
pin the behaviour (the Redis layer above the driver had one: tests/hostile/test_redis_state.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted
from kenner.config.load import load_config
from kenner.config.model import NotationValidatorConfig, RuleOptions
from kenner.net.cache import TtlCache
from kenner.net.loader import CachedLoader
from kenner.oci.dockerconfig import RegistryLogin, RegistryLogins
from kenner.validators.driver import Driver, Links, NeedCache
from kenner.validators.needs import Need
from kenner.validators.notation import NotationValidator
from kenner.validators.registry_access import Logins
from tests.flow.test_notation_flow import (
    AUTOJUMP_THRESHOLD_S,
    REGISTRY,
    REPO,
    ScriptedRegistry,
    Unreachable,
    _attach,
    _image,
    _pem,
    _signer,
)
from tests.support.notation_signing import sign

TEAM_A = RegistryLogins({REGISTRY: RegistryLogin("team-a", "secret-a")})
TEAM_B = RegistryLogins({REGISTRY: RegistryLogin("team-b", "secret-b")})
OPTIONS = RuleOptions()


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=AUTOJUMP_THRESHOLD_S)


@pytest.fixture
async def background() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


@attrs.define
class PrivateRegistry(ScriptedRegistry):
    """Answers only team A's login; any other gets a 401, as a private repository does."""

    logins: list[str | None] = attrs.Factory(list)

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        login = getattr(need, "login", None)
        self.logins.append(None if login is None else login.username)
        if login is None or login.username != "team-a":
            await trio.sleep(1.0)
            raise Unreachable(self.location(need), "401 unauthorized")
        return await super().fetch(need, fetch_s)


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
    # The pods' pull secrets decide the login, as for a cosign validator with k8sKeychain.
    validator = NotationValidator(config, logins=Logins(RegistryLogins(), use_pull_secrets=True))
    return Driver(validator, Links(registry, loader, fetch_s=10.0))


async def _setup(background: trio.Nursery) -> tuple[Driver, PrivateRegistry, str]:
    registry = PrivateRegistry()
    manifest, target = _image()
    registry.manifests["v1"] = manifest
    pki = _signer()
    _attach(registry, target, sign(pki, target=target))
    return _driver(registry, _pem(pki), background), registry, target.digest


async def test_an_allow_reached_with_one_login_is_not_served_for_another(
    clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    driver, registry, digest = await _setup(background)
    image = parse_image(f"{REGISTRY}/{REPO}:v1")
    assert await driver.answer(image, OPTIONS, TEAM_A) == Trusted(digest)
    assert driver.answer_now(image, OPTIONS, TEAM_A) == Trusted(digest)
    # B's pod, and a pod without pull secrets: nothing of A's is at hand, and the registry
    # refuses them.
    assert driver.answer_now(image, OPTIONS, TEAM_B) is None
    assert driver.answer_now(image, OPTIONS, None) is None
    denied = await driver.answer(image, OPTIONS, TEAM_B)
    assert isinstance(denied, Untrusted)
    assert "401" in denied.reason
    assert isinstance(await driver.answer(image, OPTIONS, None), Untrusted)
    assert {"team-a", "team-b", None} == set(registry.logins)  # each asked with its own
    # By digest too: the derived signer set is keyed by login.
    pinned = parse_image(f"{REGISTRY}/{REPO}@{digest}")
    assert await driver.answer(pinned, OPTIONS, TEAM_A) == Trusted(digest)
    assert isinstance(await driver.answer(pinned, OPTIONS, TEAM_B), Untrusted)


async def test_a_failure_provoked_with_one_login_is_not_served_for_another(
    clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    driver, registry, digest = await _setup(background)
    image = parse_image(f"{REGISTRY}/{REPO}:v1")
    # B goes first: its refusal is remembered for B only, A still validates.
    assert isinstance(await driver.answer(image, OPTIONS, TEAM_B), Untrusted)
    assert driver.answer_now(image, OPTIONS, TEAM_A) is None
    assert await driver.answer(image, OPTIONS, TEAM_A) == Trusted(digest)
    assert registry.logins[0] == "team-b"
    assert "team-a" in registry.logins


async def test_a_cached_failure_is_a_denial_never_an_allow(
    clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    driver, registry, digest = await _setup(background)
    registry.broken.add("v1")  # the tag read fails: an expected failure, remembered
    image = parse_image(f"{REGISTRY}/{REPO}:v1")
    first = await driver.answer(image, OPTIONS, TEAM_A)
    assert isinstance(first, Untrusted)
    cached = driver.answer_now(image, OPTIONS, TEAM_A)
    assert cached == first  # the remembered failure answers, as the same denial
    registry.broken.clear()
    await trio.sleep(6.0)  # past failureTtlSeconds: read again, and now signed
    assert await driver.answer(image, OPTIONS, TEAM_A) == Trusted(digest)
