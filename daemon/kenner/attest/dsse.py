"""DSSE envelopes (``application/vnd.dsse.envelope.v1+json``) and their signatures.

Rules: an envelope is a JSON object with ``payloadType`` (a string), ``payload`` (base64,
standard or URL-safe alphabet, padding optional) and ``signatures``, a non-empty list of at
most ``MAX_SIGNATURES`` objects each with ``sig`` (base64; ``keyid`` is ignored: kenner tries
the trust root's key). A signature is over the pre-authentication encoding
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` with lengths in
ASCII decimal, never over the payload alone. Only the in-toto payload type is accepted.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs

from kenner.attest.errors import StatementError
from kenner.attest.statement import strict_json
from kenner.cosign.keys import VerificationKey
from kenner.quoting import json_type, quote
from kenner.sigstore.dsse import pae

ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024
MAX_SIGNATURES = 16
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}", re.ASCII)


@attrs.frozen
class Envelope:
    """A parsed envelope: its payload bytes and signature bytes (not yet verified)."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]

    def signed_by(self, key: VerificationKey) -> bool:
        """Whether one of the signatures verifies with ``key`` over the PAE."""
        return self.signature_by(key) is not None

    def signature_by(self, key: VerificationKey) -> bytes | None:
        """The first signature that verifies with ``key`` over the PAE, if any."""
        message = pae(self.payload_type, self.payload)
        return next((s for s in self.signatures if key.verify(s, message)), None)


def parse_envelope(data: bytes) -> Envelope:
    """The envelope in ``data``.

    Raises:
        StatementError: not a DSSE envelope with an in-toto payload.
    """
    document = strict_json(data, "the DSSE envelope", MAX_ENVELOPE_BYTES)
    if not isinstance(document, dict):
        raise StatementError(f"the DSSE envelope is {json_type(document)}, not an object")
    payload_type = document.get("payloadType")
    if payload_type != INTOTO_PAYLOAD_TYPE:
        shown = quote(payload_type) if isinstance(payload_type, str) else json_type(payload_type)
        raise StatementError(f"the DSSE payloadType is {shown}, not {INTOTO_PAYLOAD_TYPE!r}")
    payload = _base64(document.get("payload"), "payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise StatementError("the DSSE envelope has no signatures list")
    if len(signatures) > MAX_SIGNATURES:
        raise StatementError(
            f"the DSSE envelope has {len(signatures)} signatures; at most {MAX_SIGNATURES}"
        )
    decoded = []
    for signature in signatures:
        if not isinstance(signature, dict):
            raise StatementError("a DSSE signature is not an object")
        decoded.append(_base64(signature.get("sig"), "sig"))
    return Envelope(payload_type, payload, tuple(decoded))


def _base64(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not _BASE64.fullmatch(value):
        raise StatementError(f"the DSSE {field} is not base64")
    text = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise StatementError(f"the DSSE {field} is not base64") from None
