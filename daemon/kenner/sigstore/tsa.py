"""RFC 3161 timestamps of a bundle, checked with ``kenner.timestamp`` against one TSA of the
trusted root.

A bundle's ``signedTimestamp`` is a DER TimeStampResp; its token must cover the bundle's
signature bytes (the message imprint) and chain to the TSA's root, through the TSA's
intermediates (the TSA's signing certificate, first in its chain, among them: tokens that
carry no certificate are signed by it). ``kenner.timestamp.verify`` states the rest.

``kenner.timestamp`` is imported on the first timestamp, not with this module: it loads
asn1crypto (5 MB of memory) that a policy whose bundles carry no timestamps never needs.
"""

from __future__ import annotations

from datetime import datetime

from kenner.sigstore.trustroot import Authority


def check_timestamp(response: bytes, message: bytes, authority: Authority) -> datetime:
    """The time ``authority`` vouches ``message`` existed at (a ``verify.TimestampCheck``).

    Raises:
        TimestampError: the response or its token does not verify.
    """
    from kenner.timestamp.parse import parse_timestamp_response
    from kenner.timestamp.verify import verify_timestamp_token

    token = parse_timestamp_response(response)
    verified = verify_timestamp_token(
        token,
        message=message,
        trusted_roots=[authority.root],
        intermediates=authority.intermediates,
    )
    return verified.time
