"""``type: notaryv1``: Docker Content Trust data from a Notary v1 server.

The I/O shell around the pure verifier in ``kenner.tuf``. For one image it:

1. picks the pinned root keys the rule names (``with.trustRoot``: a name, ``"*"`` for any
   configured root, absent for the root named ``default``);
2. gets the verified trust data of the image's repository (GUN) from the cache, or loads it
   once for all concurrent requests (single-flight): round 1 fetches root, timestamp,
   snapshot and targets concurrently; only when the pinned key does not sign the current
   root are the versioned roots fetched to walk the rotation; round 2 fetches the
   delegations the rule needs. A failing fetch cancels its siblings; every fetch has its
   own deadline inside the request's;
3. refuses trust data older than what this process verified before (rollback);
4. chooses the signed digest for the reference (``kenner.tuf.choose_digest``).

Verifying is pure CPU work, about 1 ms for a small repository; more than
``THREAD_TRUST_BYTES`` of trust data (hundreds of tags) is verified in a worker thread
(``kenner.offload``), so that a big targets file does not stall the event loop.

``cached_verdict`` answers from the cache alone (step 2 without a load), through the same
verdict code, for requests that need no task (``kenner.validators.run``).

If a publish races the concurrent fetch, the hash chain breaks; the load is then repeated
once before the image is denied.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import attrs
import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import NotaryV1ValidatorConfig, RuleOptions
from kenner.net.auth import AuthSession
from kenner.net.cache import CacheStatistics
from kenner.net.errors import FetchError, NotFound
from kenner.net.loader import (
    CachedLoader,
    Loaded,
    Lookups,
    answer_from_caches,
    answer_with_loads,
)
from kenner.net.singleflight import SingleFlightStatistics
from kenner.offload import in_worker_thread
from kenner.tuf import (
    TOP_LEVEL_ROLES,
    PublicKey,
    Reason,
    RollbackGuard,
    RootRotationNeeded,
    TrustedTargets,
    TrustError,
    choose_digest,
    parse_public_key_pem,
    verify_delegations,
    verify_repository,
)
from kenner.tuf.limits import max_bytes

# A broken hash chain right after a publish is a race, not an attack: one more try.
_RACE_REASONS = frozenset({Reason.HASH_MISMATCH, Reason.LENGTH_MISMATCH})
# Measured (docs/benchmarks.md, "Work off the event loop"): verifying costs about 0.7 ms of
# signature checks plus 0.08 ms per KiB of trust data (parsing, canonical JSON), so 1.2 ms at
# 8 KiB; a thread hop costs 0.1-0.4 ms. A repository with a few tags (5 KiB) stays on the
# loop; one with hundreds of tags goes to a worker thread.
THREAD_TRUST_BYTES = 8 * 1024

T = TypeVar("T")


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up, hit record and LRU update
class TrustKey:
    """What a verified trust view depends on: repository, pinned roots, required roles."""

    gun: str
    roots: tuple[str, ...]
    delegations: tuple[str, ...]


@attrs.frozen
class NotaryFetchSettings:
    """Per-fetch deadline (inside the request's) and the clock for expiry checks."""

    fetch_s: float
    now: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))


class NotaryV1Validator:
    """Validates images against one Notary server with a set of pinned root keys."""

    def __init__(
        self,
        config: NotaryV1ValidatorConfig,
        *,
        session: AuthSession,
        loader: CachedLoader[TrustKey, TrustedTargets],
        rollback: RollbackGuard,
        settings: NotaryFetchSettings,
    ) -> None:
        self._config = config
        self._session = session
        self._loader = loader
        self._rollback = rollback
        self._settings = settings
        self._keys: dict[str, PublicKey] = {
            root.name: parse_public_key_pem(root.key) for root in config.trust_roots
        }
        self._fetches: collections.Counter[str] = collections.Counter()  # by outcome
        # The pinned roots per rule's ``trustRoot`` (or why there are none), memoised: every
        # image needs them, and the rules are fixed for this validator's configuration.
        self._roots: dict[str | None, tuple[str, ...] | Untrusted] = {}

    @property
    def name(self) -> str:
        return self._config.name

    def cache_statistics(self) -> CacheStatistics:
        """The trust-data cache's counters (read by the metrics collector)."""
        return self._loader.cache_statistics()

    def flight_statistics(self) -> SingleFlightStatistics:
        """Loads started and validations that joined one (read by the metrics collector)."""
        return self._loader.flight_statistics()

    def fetch_statistics(self) -> dict[tuple[str, str], int]:
        """Role fetches so far by (host, outcome: ok, not_found, error, timeout)."""
        return {(self._config.host, outcome): n for outcome, n in self._fetches.items()}

    def cached_verdict(self, image: ImageRef, options: RuleOptions) -> Verdict | None:
        """``validate``'s verdict from the cached trust data (or remembered failure) of the
        image's repository; None when it has none that is fresh."""
        key = self._trust_key(image, options)
        if isinstance(key, Untrusted):
            return key
        return answer_from_caches(lambda lookups: self._verdict(image, options, key, lookups))

    async def validate(self, image: ImageRef, options: RuleOptions) -> Verdict:
        key = self._trust_key(image, options)
        if isinstance(key, Untrusted):
            return key
        return await answer_with_loads(lambda lookups: self._verdict(image, options, key, lookups))

    def _trust_key(self, image: ImageRef, options: RuleOptions) -> TrustKey | Untrusted:
        roots = self._roots.get(options.trust_root)
        if roots is None:
            roots = self._roots[options.trust_root] = self._root_names(options.trust_root)
        if isinstance(roots, Untrusted):
            return roots
        return TrustKey(image.name, roots, options.delegations)

    def _root_names(self, trust_root: str | None) -> tuple[str, ...] | Untrusted:
        if trust_root == "*":
            return tuple(sorted(self._keys))
        name = trust_root or "default"
        if name not in self._keys:
            return Untrusted(f"notaryv1 validator {self.name!r} has no trust root {name!r}")
        return (name,)

    def _verdict(
        self, image: ImageRef, options: RuleOptions, key: TrustKey, lookups: Lookups
    ) -> Verdict:
        """The verdict from the repository's trust data or the failure to load it."""
        try:
            targets = lookups.take(self._loader, key, lambda: self._load(key))
            digest = choose_digest(targets, image.tag, image.digest, options.delegations)
        except TrustError as error:
            return Untrusted(str(error))  # "<reason>: <message naming the role>"
        except FetchError as error:
            return Untrusted(f"trust data unavailable: {error}")
        except trio.TooSlowError:
            return Untrusted(f"trust data unavailable: no answer from {self._config.host} in time")
        return Trusted(digest)

    async def _load(self, key: TrustKey) -> Loaded[TrustedTargets]:
        try:
            return await self._load_once(key)
        except TrustError as error:
            if error.reason not in _RACE_REASONS:
                raise
            return await self._load_once(key)

    async def _load_once(self, key: TrustKey) -> Loaded[TrustedTargets]:
        now = self._settings.now()  # one reference time for the whole verification
        pinned = [self._keys[name] for name in key.roots]
        files = _present(await self._fetch_roles(key.gun, TOP_LEVEL_ROLES))
        try:
            repository = await _verified(
                _size(files), partial(verify_repository, key.gun, files, pinned, now)
            )
        except RootRotationNeeded as need:
            versions = [f"{n}.root" for n in range(1, need.current_version)]
            history = _present(await self._fetch_roles(key.gun, versions))
            rotation = {int(name.split(".")[0]): raw for name, raw in history.items()}
            repository = await _verified(
                _size(files) + _size(history),
                partial(verify_repository, key.gun, files, pinned, now, rotation_roots=rotation),
            )
        delegations = await self._fetch_roles(key.gun, repository.roles_needed(key.delegations))
        targets = await _verified(
            _size(delegations), partial(verify_delegations, repository, delegations, now)
        )
        self._rollback.observe(self._config.host, key.gun, targets.versions)
        return Loaded(targets, ttl_s=(targets.expires - now).total_seconds())

    async def _fetch_roles(self, gun: str, roles: Sequence[str]) -> dict[str, bytes | None]:
        """Fetch ``roles`` concurrently; None for a 404. The first failure cancels the rest."""
        fetched: dict[str, bytes | None] = {}
        failure: list[Exception] = []

        async def fetch(role: str, cancel_scope: trio.CancelScope) -> None:
            url = f"{self._config.host}/v2/{gun}/_trust/tuf/{role}.json"
            cap = max_bytes("root" if role.endswith(".root") else role)
            try:
                with trio.fail_after(self._settings.fetch_s):
                    result = await self._session.get(url, repository=gun, max_bytes=cap)
                fetched[role] = result.body
                self._fetches["ok"] += 1
            except NotFound:
                fetched[role] = None
                self._fetches["not_found"] += 1
            except (FetchError, trio.TooSlowError) as error:
                self._fetches["timeout" if isinstance(error, trio.TooSlowError) else "error"] += 1
                if isinstance(error, trio.TooSlowError):
                    error = FetchError(url, f"no answer within {self._settings.fetch_s:g} s")
                failure.append(error)
                cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for role in roles:
                nursery.start_soon(fetch, role, nursery.cancel_scope)
        if failure:
            raise failure[0]
        return fetched


def _present(files: dict[str, bytes | None]) -> dict[str, bytes]:
    return {role: raw for role, raw in files.items() if raw is not None}


def _size(files: Mapping[str, bytes | None]) -> int:
    return sum(len(raw) for raw in files.values() if raw is not None)


async def _verified(size: int, verify: Callable[[], T]) -> T:
    """``verify()`` on the event loop for up to ``THREAD_TRUST_BYTES`` of trust data, else in
    a worker thread (pure code: it reads only its arguments)."""
    if size <= THREAD_TRUST_BYTES:
        return verify()
    return await in_worker_thread(verify)
