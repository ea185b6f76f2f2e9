"""Verdicts shared between replicas through Redis (``cache.redis``), around any validator.

Order of consultation, each only when the one before has no answer:

1. the validator's own caches (``answer_now``): the warm path never touches Redis;
2. verdicts this process read from Redis before (a small local memo, for their lifetime);
3. Redis: one read (GETRANGE, bounded in size); an authenticated, unexpired value is the
   verdict (and goes to the memo);
4. the validator itself (``answer``); an allowing verdict is then written to Redis in the
   background (the answer does not wait for it). A verdict a replica answers from its own
   caches is not written again.

The key (``kenner.sharing.verdict_key``) holds the image reference, the validator's name,
fingerprints of its whole configuration and of the rule's options, and the pod's pull-secret
login for the image (HMAC'd), so a changed validator or rule never reads an old verdict and
one namespace's login never answers for another's (as the in-process caches are per login).
Only allowing verdicts are shared; a denial is reached again by each replica, and so is
every verdict of a rule with an attestation ``maxAge`` (measured at each admission). A
verdict from Redis is a ``Trusted(digest)`` like a local one: the pipeline pins and proves it
the same way. Redis unavailable or a value that fails its HMAC: step 4, as without Redis.

``shared_versions`` meets the Notary validator's ``SharedVersions`` need (the rollback
memory of all replicas) from the same store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Verdict
from kenner.config.model import RuleOptions, ValidatorConfig
from kenner.net.cache import Cached, TtlCache
from kenner.net.redis_store import RedisStore, RedisStores
from kenner.oci.dockerconfig import RegistryLogins
from kenner.sharing import fingerprint, login_id, verdict_key
from kenner.validators.driver import Driven
from kenner.validators.needs import SharedVersions

MAX_REMEMBERED = 4096


class SharedVerdicts:
    """``inner`` with its allowing verdicts shared through the current Redis store."""

    def __init__(
        self,
        inner: Driven,
        config: ValidatorConfig,
        stores: RedisStores,
        nursery: trio.Nursery,
        *,
        memo_ttl_s: float,
    ) -> None:
        self._inner = inner
        self._config_fingerprint = fingerprint(config)
        self._stores = stores
        self._nursery = nursery
        self._memo: TtlCache[str, str | None] = TtlCache(
            ttl_s=memo_ttl_s, max_entries=MAX_REMEMBERED
        )
        # The fingerprint per rule's options; None: not shared (see _shared_options).
        self._options: dict[RuleOptions, str | None] = {}

    @property
    def name(self) -> str:
        return self._inner.name

    def __getattr__(self, attribute: str) -> Any:
        # The metrics collector reads the inner validator's cache statistics through here.
        return getattr(self._inner, attribute)

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        verdict = self._inner.answer_now(image, options, pull_logins)
        store = self._stores.current
        if verdict is not None or store is None or self._shared_options(options) is None:
            return verdict
        remembered = self._memo.lookup(self._key(store, image, options, pull_logins))
        return Trusted(remembered.value) if isinstance(remembered, Cached) else None

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        store = self._stores.current
        if store is None or self._shared_options(options) is None:
            return await self._inner.answer(image, options, pull_logins)
        key = self._key(store, image, options, pull_logins)
        shared = await store.get_verdict(key)
        if shared is not None:
            self._memo.put(key, shared.digest, ttl_s=shared.expires_at - time.time())
            return Trusted(shared.digest)
        verdict = await self._inner.answer(image, options, pull_logins)
        if isinstance(verdict, Trusted):
            lifetime = store.settings.config.ttl_s
            self._nursery.start_soon(store.put_verdict, key, verdict.digest, lifetime)
        return verdict

    def _shared_options(self, options: RuleOptions) -> str | None:
        """The fingerprint of ``options``, or None when its verdicts are not shared: a rule
        with an attestation ``maxAge`` is judged at each admission's clock
        (docs/attestations.md), which a stored verdict would not be."""
        if options not in self._options:
            per_admission = any(
                condition.operator == "maxAge"
                for rule in options.attestations
                for condition in rule.policy
            )
            self._options[options] = None if per_admission else fingerprint(options)
        return self._options[options]

    def _key(
        self,
        store: RedisStore,
        image: ImageRef,
        options: RuleOptions,
        pull_logins: RegistryLogins | None,
    ) -> str:
        options_fingerprint = self._shared_options(options)
        assert options_fingerprint is not None  # the callers share only such options
        # The pod's login for this image is part of what was validated: a registry may let
        # one namespace's secret read a repository another's may not (docs/deploy.md).
        login = (
            None if pull_logins is None else pull_logins.for_image(image.registry, image.repository)
        )
        return verdict_key(
            store.settings.config.prefix,
            reference=str(image),
            validator=self.name,
            config_fingerprint=self._config_fingerprint,
            options_fingerprint=options_fingerprint,
            login_id=None
            if login is None
            else login_id(store.settings.hmac_key, login.username, login.password),
        )


async def shared_versions(stores: RedisStores, need: SharedVersions) -> Mapping[str, int] | None:
    """Record ``need``'s versions in the current store's rollback memory (see
    ``RedisStore.raise_versions``); None without a store or when Redis could not be asked."""
    store = stores.current
    if store is None:
        return None
    return await store.raise_versions(need.host, need.gun, dict(need.versions))
