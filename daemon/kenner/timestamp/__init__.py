"""RFC 3161 timestamps: parse a TimeStampResp, verify a TimeStampToken (RFC 3161, RFC 5816).

Pure: no I/O. Both Notation (a bare TimeStampToken in the unsigned header
``io.cncf.notary.timestampSignature``) and Sigstore bundles (DER TimeStampResp in
``signedTimestamp``) use it. ``kenner.timestamp.verify`` states the rules.
"""

from __future__ import annotations

from kenner.timestamp.errors import Reason, TimestampError
from kenner.timestamp.parse import parse_timestamp_response
from kenner.timestamp.verify import VerifiedTimestamp, check_trust_roots, verify_timestamp_token

__all__ = [
    "Reason",
    "TimestampError",
    "VerifiedTimestamp",
    "check_trust_roots",
    "parse_timestamp_response",
    "verify_timestamp_token",
]
