"""Pick the envelope parser by the signature layer's media type."""

from __future__ import annotations

from kenner.notation import jws
from kenner.notation.envelope import (
    COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
    MAX_ENVELOPE_BYTES,
    Envelope,
    fail,
)
from kenner.quoting import quote


def parse_envelope(media_type: str, raw: bytes) -> Envelope:
    """Parse ``raw`` as the envelope format ``media_type`` names.

    Raises:
        NotationError: (``tampered_envelope``) unknown format, over the size limit, or any
            rule of the format or of this module broken.
    """
    if len(raw) > MAX_ENVELOPE_BYTES:
        fail(f"the envelope is {len(raw)} bytes, over the limit of {MAX_ENVELOPE_BYTES}")
    if media_type == JWS_MEDIA_TYPE:
        return jws.parse(raw)
    if media_type == COSE_MEDIA_TYPE:
        from kenner.notation import cose  # cbor2 loads with the first COSE envelope

        return cose.parse(raw)
    fail(f"the envelope media type {quote(media_type)} is not supported")
