"""Why an RFC 3161 timestamp does not count."""

from __future__ import annotations

import enum

from kenner.errors import KennerError
from kenner.quoting import clip


class Reason(enum.StrEnum):
    """The kind of failure, stable for tests, logs and the validators' denials."""

    MALFORMED = "malformed_token"  # not a DER TimeStampResp / CMS SignedData, or over the limits
    NOT_GRANTED = "not_granted"  # a TimeStampResp whose status grants no token
    CONTENT_TYPE = "wrong_content_type"  # the signed content is not id-ct-TSTInfo
    BAD_TSTINFO = "bad_tstinfo"  # the TSTInfo does not parse
    IMPRINT_MISMATCH = "imprint_mismatch"  # the token stamps other bytes
    NO_TSA_CERTIFICATE = "no_tsa_certificate"  # the signer's certificate is nowhere to be found
    NOT_TIMESTAMPING = "not_a_timestamping_certificate"  # no critical id-kp-timeStamping EKU
    OUTSIDE_VALIDITY = "outside_tsa_validity"  # genTime outside the TSA certificate's validity
    UNTRUSTED = "untrusted_tsa"  # the TSA certificate does not chain to a trusted root
    BAD_SIGNATURE = "bad_signature"  # the signer's signature or its signed attributes are wrong
    BAD_TRUST_ROOT = "unusable_trust_root"  # a configured TSA root is no self-issued CA


class TimestampError(KennerError):
    """A timestamp does not count: ``reason`` says what kind of problem, the message which."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


def shown(text: str) -> str:
    """Untrusted or library text for a message: on one line, clipped (kenner.quoting)."""
    return clip(" ".join(text.split()))  # asn1crypto's messages span lines
