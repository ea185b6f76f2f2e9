"""Verification levels, exactly as the Notary Project's table (trust-store-trust-policy.md).

| level      | integrity | authenticity | authentic timestamp | expiry   | revocation |
|------------|-----------|--------------|---------------------|----------|------------|
| strict     | enforced  | enforced     | enforced            | enforced | enforced   |
| permissive | enforced  | enforced     | logged              | logged   | logged     |
| audit      | enforced  | logged       | logged              | logged   | logged     |

An enforced check that fails denies the signature; a logged one is reported and verification
goes on. ``skip`` (no verification at all) is refused for admission: a rule that admits
unverified images is a ``static`` validator's job. Trusted identities are part of
authenticity; the target descriptor check is not in the table and is always enforced (a
signature for another manifest says nothing about this one).
"""

from __future__ import annotations

import enum

from kenner.notation.errors import Check


class Level(enum.StrEnum):
    """A verification level kenner accepts."""

    STRICT = "strict"
    PERMISSIVE = "permissive"
    AUDIT = "audit"


_LOGGED: dict[Level, frozenset[Check]] = {
    Level.STRICT: frozenset(),
    Level.PERMISSIVE: frozenset({Check.TIMESTAMP, Check.EXPIRY, Check.REVOCATION}),
    Level.AUDIT: frozenset(
        {Check.AUTHENTICITY, Check.IDENTITY, Check.TIMESTAMP, Check.EXPIRY, Check.REVOCATION}
    ),
}


def enforced(level: Level, check: Check) -> bool:
    """Whether a failure of ``check`` denies at ``level`` (else it is logged)."""
    return check not in _LOGGED[level]
