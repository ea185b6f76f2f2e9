"""Rollback protection: never accept trust data older than data already verified.

Connaisseur keeps no memory between requests, so a server (or a man in the middle with old,
still unexpired, validly signed metadata) can serve an older snapshot or targets and make a
revoked signature count again. :class:`RollbackGuard` remembers, per ``(host, gun)``, the
highest version verified for every role and refuses lower ones.

The memory is bounded: it holds at most ``max_repositories`` repositories and forgets the one
seen least recently when a new one comes. Eviction weakens protection only for what is
forgotten: the next trust data of an evicted repository is taken as the new baseline (as
after a restart), so an attacker must have old data ready exactly when the repository was
forgotten. With Redis (``cache.redis``) the replicas' shared memory, bounded the same way
but much larger, still knows it (``kenner.net.redis_store``).

The guard is plain in-memory state without I/O or awaits; the fetcher keeps one instance for
the process lifetime. Its methods never yield, so under trio no lock is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from kenner.tuf.errors import Reason, TrustError

DEFAULT_MAX_REPOSITORIES = 10_000


class RollbackGuard:
    """The highest verified version of every role, per Notary host and GUN (LRU-bounded)."""

    def __init__(self, max_repositories: int = DEFAULT_MAX_REPOSITORIES) -> None:
        if max_repositories < 1:
            raise ValueError(f"max_repositories must be at least 1, not {max_repositories}")
        self._max = max_repositories
        self._highest: OrderedDict[tuple[str, str], dict[str, int]] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._highest)

    def highest(self, host: str, gun: str) -> Mapping[str, int]:
        """The versions recorded for ``(host, gun)`` (empty when never seen or forgotten)."""
        return dict(self._highest.get((host, gun), {}))

    def check(self, host: str, gun: str, versions: Mapping[str, int], source: str = "") -> None:
        """Refuse any role of ``versions`` older than recorded; record nothing.

        Raises:
            TrustError: ``rollback`` naming the first role whose version went down.
        """
        refuse_older(gun, host, versions, self._highest.get((host, gun), {}), source)

    def record(self, host: str, gun: str, versions: Mapping[str, int]) -> None:
        """Raise the recorded versions to ``versions`` (never lower them); mark the
        repository most recently seen, forgetting the least recently seen one when full."""
        key = (host, gun)
        recorded = self._highest.pop(key, {})
        for role, version in versions.items():
            recorded[role] = max(version, recorded.get(role, 0))
        self._highest[key] = recorded
        while len(self._highest) > self._max:
            self._highest.popitem(last=False)
            self.evictions += 1

    def observe(self, host: str, gun: str, versions: Mapping[str, int]) -> None:
        """Refuse any role older than recorded, else record the new maxima (all or nothing).

        Args:
            host: the Notary server (trust data of different servers is independent).
            gun: the repository name.
            versions: verified version per role, e.g. ``VerifiedRepository.versions`` or
                ``TrustedTargets.versions``.

        Raises:
            TrustError: ``rollback`` naming the first role whose version went down.
        """
        self.check(host, gun, versions)
        self.record(host, gun, versions)


def refuse_older(
    gun: str,
    host: str,
    versions: Mapping[str, int],
    recorded: Mapping[str, int],
    source: str = "",
) -> None:
    """Raise ``rollback`` for the first role of ``versions`` below its ``recorded`` version.

    ``source`` words where the record comes from (e.g. " by a replica") for the message.
    """
    for role, version in versions.items():
        seen = recorded.get(role, 0)
        if version < seen:
            raise TrustError(
                Reason.ROLLBACK,
                role,
                f"{role} of {gun} at {host} is version {version}, "
                f"but version {seen} was verified before{source}",
            )
