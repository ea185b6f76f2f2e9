"""Rollback protection: never accept trust data older than data already verified.

Connaisseur keeps no memory between requests, so a server (or a man in the middle with old,
still unexpired, validly signed metadata) can serve an older snapshot or targets and make a
revoked signature count again. :class:`RollbackGuard` remembers, per ``(host, gun)``, the
highest version verified for every role and refuses lower ones.

The guard is plain in-memory state without I/O or awaits; the fetcher keeps one instance for
the process lifetime. Its methods never yield, so under trio no lock is needed.
"""

from __future__ import annotations

from collections.abc import Mapping

from kenner.tuf.errors import Reason, TrustError


class RollbackGuard:
    """The highest verified version of every role, per Notary host and GUN."""

    def __init__(self) -> None:
        self._highest: dict[tuple[str, str], dict[str, int]] = {}

    def highest(self, host: str, gun: str) -> Mapping[str, int]:
        """The versions recorded for ``(host, gun)`` (empty when never seen)."""
        return dict(self._highest.get((host, gun), {}))

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
        recorded = self._highest.setdefault((host, gun), {})
        for role, version in versions.items():
            seen = recorded.get(role, 0)
            if version < seen:
                raise TrustError(
                    Reason.ROLLBACK,
                    role,
                    f"{role} of {gun} at {host} is version {version}, "
                    f"but version {seen} was verified before",
                )
        for role, version in versions.items():
            recorded[role] = max(version, recorded.get(role, 0))
