"""Why one signature does not count for one trust root."""

from __future__ import annotations

import enum

from kenner.errors import KennerError


class Failure(enum.StrEnum):
    """The kind of a rejection, stable for tests and logs."""

    MALFORMED = "malformed_signature"
    WRONG_TYPE = "wrong_payload_type"
    DIGEST_MISMATCH = "digest_mismatch"
    REFERENCE_MISMATCH = "reference_mismatch"
    BAD_SIGNATURE = "bad_signature"
    NO_CERTIFICATE = "no_certificate"
    BAD_CERTIFICATE = "bad_certificate"
    IDENTITY_MISMATCH = "identity_mismatch"
    BAD_SCT = "bad_sct"  # no, a foreign or a bad SCT of the configured CT log
    NO_TLOG_ENTRY = "no_tlog_entry"
    BAD_TLOG_ENTRY = "bad_tlog_entry"


class Rejected(KennerError):
    """A signature does not count: ``failure`` says what kind of problem, the message which."""

    def __init__(self, failure: Failure, message: str) -> None:
        self.failure = failure
        self.message = message
        super().__init__(f"{failure}: {message}")


class UnusableKey(KennerError, ValueError):
    """A configured public key or certificate cannot be used."""
