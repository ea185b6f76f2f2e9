"""``type: notaryv1``: Docker Content Trust data from a Notary v1 server.

A sans-IO step (``kenner.validators.base``) around the pure verifier in ``kenner.tuf``; the
driver (``kenner.validators.driver``) fetches, caches and shares. For one image it:

1. picks the pinned root keys the rule names (``with.trustRoot``: a name, ``"*"`` for any
   configured root, absent for the root named ``default``);
2. needs the verified trust data of the image's repository (GUN): a ``Derived`` need,
   ``TrustKey``, so the driver caches it and derives it once for all concurrent requests.
   The derivation needs the clock (one reference time), then root, timestamp, snapshot and
   targets (``TufRole`` needs, fetched concurrently); only when the pinned key does not sign
   the current root, the versioned roots to walk the rotation; then the delegations the rule
   needs. A failing fetch cancels its siblings; every fetch has its own deadline;
3. refuses trust data older than what this process verified before (rollback) and, with
   ``cache.redis``, older than any replica verified before (a ``SharedVersions`` need: the
   local memory is checked before and after it; Redis unavailable, the local one decides);
4. chooses the signed digest for the reference (``kenner.tuf.choose_digest``).

Verifying is pure CPU work, about 1 ms for a small repository; more than
``THREAD_TRUST_BYTES`` of trust data (hundreds of tags) is verified in a worker thread
(``kenner.offload``), so that a big targets file does not stall the event loop.

Each verification is a ``Compute`` need, so the driver runs it in the thread when it is big.

If a publish races the concurrent fetch, the hash chain breaks; the fetches are then repeated
once (``TufRole.attempt`` 1) before the image is denied.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import attrs
import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import NotaryV1ValidatorConfig, RuleOptions
from kenner.net.cache import unwrap
from kenner.net.errors import FetchError
from kenner.net.loader import Loaded
from kenner.tuf.delegations import TrustedTargets, verify_delegations
from kenner.tuf.digest import choose_digest
from kenner.tuf.errors import Reason, RootRotationNeeded, TrustError
from kenner.tuf.keys import PublicKey, parse_public_key_pem
from kenner.tuf.limits import max_bytes
from kenner.tuf.repository import TOP_LEVEL_ROLES, verify_repository
from kenner.tuf.rollback import RollbackGuard, refuse_older
from kenner.validators.base import Ask
from kenner.validators.needs import Compute, Derived, Facts, Needs, SharedVersions, TufRole

# A broken hash chain right after a publish is a race, not an attack: one more try.
_RACE_REASONS = frozenset({Reason.HASH_MISMATCH, Reason.LENGTH_MISMATCH})
# Measured (docs/benchmarks.md, "Work off the event loop"): verifying costs about 0.7 ms of
# signature checks plus 0.08 ms per KiB of trust data (parsing, canonical JSON), so 1.2 ms at
# 8 KiB; a thread hop costs 0.1-0.4 ms. A repository with a few tags (5 KiB) stays on the
# loop; one with hundreds of tags goes to a worker thread.
THREAD_TRUST_BYTES = 8 * 1024

T = TypeVar("T")


@attrs.frozen(cache_hash=True)  # hashed on every cache look-up, hit record and LRU update
class TrustKey(Derived[TrustedTargets]):
    """The verified trust data of a repository, keyed by what it depends on: the repository,
    the pinned roots, the required delegation roles."""

    gun: str
    roots: tuple[str, ...]
    delegations: tuple[str, ...]
    validator: NotaryV1Validator = attrs.field(eq=False, repr=False)

    def derive(self, facts: Facts) -> Loaded[TrustedTargets] | Needs:
        return self.validator.derive_trust_data(self, facts)


class NotaryV1Validator:
    """Validates images against one Notary server with a set of pinned root keys."""

    def __init__(
        self,
        config: NotaryV1ValidatorConfig,
        *,
        rollback: RollbackGuard,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._rollback = rollback
        self._now = now  # the clock of expiry checks
        self._keys: dict[str, PublicKey] = {
            root.name: parse_public_key_pem(root.key) for root in config.trust_roots
        }
        # The pinned roots per rule's ``trustRoot`` (or why there are none), memoised: every
        # image needs them, and the rules are fixed for this validator's configuration.
        self._roots: dict[str | None, tuple[str, ...] | Untrusted] = {}

    @property
    def name(self) -> str:
        return self._config.name

    def reuses_verdict(self, ask: Ask) -> bool:
        """Always: expiry and rollback are checked where the trust data is verified (a
        derivation, cached no longer than the data is valid)."""
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        """The verdict from the repository's verified trust data, or the need for it."""
        image, options = ask.image, ask.options
        key = self._trust_key(image, options)
        if isinstance(key, Untrusted):
            return key
        outcome = facts.get(key)
        if outcome is None:
            return Needs.of(key)
        try:
            targets = unwrap(outcome)
            digest = choose_digest(targets, image.tag, image.digest, options.delegations)
        except TrustError as error:
            return Untrusted(str(error))  # "<reason>: <message naming the role>"
        except FetchError as error:
            return Untrusted(f"trust data unavailable: {error}")
        except trio.TooSlowError:
            return Untrusted(f"trust data unavailable: no answer from {self._config.host} in time")
        return Trusted(digest)

    def _trust_key(self, image: ImageRef, options: RuleOptions) -> TrustKey | Untrusted:
        roots = self._roots.get(options.trust_root)
        if roots is None:
            roots = self._roots[options.trust_root] = self._root_names(options.trust_root)
        if isinstance(roots, Untrusted):
            return roots
        return TrustKey(image.name, roots, options.delegations, self)

    def _root_names(self, trust_root: str | None) -> tuple[str, ...] | Untrusted:
        if trust_root == "*":
            return tuple(sorted(self._keys))
        name = trust_root or "default"
        if name not in self._keys:
            return Untrusted(f"notaryv1 validator {self.name!r} has no trust root {name!r}")
        return (name,)

    def derive_trust_data(self, key: TrustKey, facts: Facts) -> Loaded[TrustedTargets] | Needs:
        """The derivation of ``key`` (raises ``TrustError``, ``FetchError``)."""
        clock = Compute(_NOW, self._now)  # one reference time for the whole verification
        now = facts.get(clock)
        if now is None:
            return Needs.of(clock)
        try:
            return self._verified(key, unwrap(now), 0, facts)
        except TrustError as error:
            if error.reason not in _RACE_REASONS:
                raise
            return self._verified(key, unwrap(now), 1, facts)

    def _verified(
        self, key: TrustKey, now: datetime, attempt: int, facts: Facts
    ) -> Loaded[TrustedTargets] | Needs:
        pinned = [self._keys[name] for name in key.roots]
        files = _roles(key.gun, TOP_LEVEL_ROLES, attempt, facts)
        if isinstance(files, Needs):
            return files
        verify = partial(verify_repository, key.gun, files, pinned, now)
        repository = facts.get(_verify(("repository", key, attempt), _size(files), verify))
        if repository is None:
            return Needs.of(_verify(("repository", key, attempt), _size(files), verify))
        try:
            verified = unwrap(repository)
        except RootRotationNeeded as need:
            versions = [f"{n}.root" for n in range(1, need.current_version)]
            history = _roles(key.gun, versions, attempt, facts)
            if isinstance(history, Needs):
                return history
            rotation = {int(name.split(".")[0]): raw for name, raw in history.items()}
            rotate = partial(
                verify_repository, key.gun, files, pinned, now, rotation_roots=rotation
            )
            rotated = _verify(("rotated", key, attempt), _size(files) + _size(history), rotate)
            outcome = facts.get(rotated)
            if outcome is None:
                return Needs.of(rotated)
            verified = unwrap(outcome)
        delegations = _roles(key.gun, verified.roles_needed(key.delegations), attempt, facts)
        if isinstance(delegations, Needs):
            return delegations
        check = partial(verify_delegations, verified, delegations, now)
        targets = facts.get(_verify(("targets", key, attempt), _size(delegations), check))
        if targets is None:
            return Needs.of(_verify(("targets", key, attempt), _size(delegations), check))
        trusted = unwrap(targets)
        host, seen = self._config.host, trusted.versions
        self._rollback.check(host, key.gun, seen)
        shared = SharedVersions(host, key.gun, tuple(sorted(seen.items())), attempt)
        higher = facts.get(shared)
        if higher is None:
            return Needs.of(shared)
        if vouched := unwrap(higher):
            self._rollback.record(host, key.gun, vouched)
            refuse_older(key.gun, host, seen, vouched, " (by another replica)")
        self._rollback.observe(host, key.gun, seen)
        return Loaded(trusted, ttl_s=(trusted.expires - now).total_seconds())


_NOW = "now"


def _roles(gun: str, roles: Sequence[str], attempt: int, facts: Facts) -> dict[str, bytes] | Needs:
    """The present ``roles`` of ``gun`` (a 404 leaves a role out), or the fetches missing.

    Raises:
        FetchError: a fetch failed (the driver then cancelled its siblings).
    """
    present: dict[str, bytes] = {}
    missing: list[TufRole] = []
    for role in roles:
        need = TufRole(gun, role, max_bytes("root" if role.endswith(".root") else role), attempt)
        outcome = facts.get(need)
        if outcome is None:
            missing.append(need)
            continue
        raw = unwrap(outcome)
        if raw is not None:
            present[role] = raw
    return Needs(tuple(missing)) if missing else present


def _verify(key: Hashable, size: int, verify: Callable[[], T]) -> Compute[T]:
    """``verify()`` on the event loop for up to ``THREAD_TRUST_BYTES`` of trust data, else in
    a worker thread (pure code: it reads only its arguments)."""
    return Compute(key, verify, in_thread=size > THREAD_TRUST_BYTES)


def _size(files: Mapping[str, bytes]) -> int:
    return sum(len(raw) for raw in files.values())
