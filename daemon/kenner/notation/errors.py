"""Why a Notation signature does not count, by the check that failed."""

from __future__ import annotations

import enum

from kenner.errors import KennerError


class Check(enum.StrEnum):
    """The failed check, stable for tests, logs and denials.

    The first five are the Notary Project's validations (trust-store-trust-policy.md); the
    verification level decides which of them deny and which are only logged
    (``kenner.notation.levels``). The target check is always enforced.
    """

    INTEGRITY = "tampered_envelope"  # does not parse, unsupported, or the signature is wrong
    AUTHENTICITY = "untrusted_chain"  # no chain to the trust root, or a bad certificate
    IDENTITY = "identity_not_trusted"  # chains, but the subject is not a trusted identity
    TIMESTAMP = "bad_timestamp"  # the authentic timestamp check: expired chain, bad token
    EXPIRY = "expired"  # the signature's own io.cncf.notary.expiry has passed
    REVOCATION = "revoked"  # a configured CRL revokes a certificate of the chain
    TARGET = "digest_mismatch"  # the signed descriptor is not the image's manifest


class NotationError(KennerError):
    """A Notation signature does not count: ``check`` names the check, the message why."""

    def __init__(self, check: Check, message: str) -> None:
        self.check = check
        self.message = message
        super().__init__(f"{check}: {message}")
