"""COSE envelopes (``application/cose``): COSE_Sign1 (RFC 9052), tagged 18.

Rules (the Notary Project's signature-envelope-cose.md):

* The envelope is CBOR tag 18 around ``[protected: bstr, unprotected: map, payload: bstr,
  signature: bstr]``, nothing after it.
* The protected header map: ``1`` (alg: -37/-38/-39 PS256/384/512, -7/-35/-36
  ES256/384/512), ``2`` (crit), ``3`` (content type, a text string) and the Notary headers
  (``kenner.notation.envelope``) under their text labels; times are CBOR tag 1 (epoch).
* The unprotected map holds ``33`` (x5chain: one bstr, or an array of them, leaf first), and
  may hold ``io.cncf.notary.timestampSignature`` (bstr); other unsigned labels (the signing
  agent) are ignored.
* The signature covers ``Sig_structure1 = ["Signature1", protected, h'', payload]``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import cbor2

from kenner.notation.envelope import (
    AUTHENTIC_SIGNING_TIME,
    COSE_MEDIA_TYPE,
    EXPIRY,
    SCHEME,
    SIGNING_TIME,
    TIMESTAMP_SIGNATURE,
    Envelope,
    certificate_count,
    check_signed_headers,
    fail,
)
from kenner.quoting import quote

ALGORITHMS = {-37: "PS256", -38: "PS384", -39: "PS512", -7: "ES256", -35: "ES384", -36: "ES512"}
_SIGN1_TAG = 18
_X5CHAIN = 33


def parse(raw: bytes) -> Envelope:
    """Parse a COSE_Sign1 envelope; see the module rules."""
    message = _cbor(raw, "envelope")
    if not isinstance(message, cbor2.CBORTag) or message.tag != _SIGN1_TAG:
        fail("the COSE envelope is not a tagged COSE_Sign1")
    parts = message.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        fail("the COSE_Sign1 is not an array of four items")
    protected, unsigned, payload, signature = parts
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        fail("the COSE_Sign1 protected header, payload and signature must be byte strings")
    headers = _cbor(protected, "protected header")
    if not isinstance(headers, Mapping):
        fail("the COSE protected header is not a map")
    label = headers.get(1)
    algorithm = ALGORITHMS.get(label) if type(label) is int else None
    if algorithm is None:
        fail(f"the COSE algorithm {quote(headers.get(1))} is not supported")
    crit = headers.get(2)
    if not isinstance(crit, (list, tuple)) or not crit:
        fail("the COSE protected header has no critical headers list")
    check_signed_headers(headers, crit, content_type=headers.get(3))
    if not isinstance(unsigned, Mapping):
        fail("the COSE unprotected header is not a map")
    chain = unsigned.get(_X5CHAIN)
    chain = (chain,) if isinstance(chain, bytes) else chain
    if not isinstance(chain, (list, tuple)) or not all(isinstance(c, bytes) for c in chain):
        fail("the COSE unprotected header has no x5chain of byte strings")
    certificate_count(len(chain))
    token = unsigned.get(TIMESTAMP_SIGNATURE)
    if token is not None and not isinstance(token, bytes):
        fail("the COSE timestamp signature is not a byte string")
    signed = cbor2.dumps(["Signature1", protected, b"", payload])
    return Envelope(
        media_type=COSE_MEDIA_TYPE,
        algorithm=algorithm,
        scheme=str(headers[SCHEME]),
        signing_time=_time(headers, SIGNING_TIME),
        authentic_signing_time=_time(headers, AUTHENTIC_SIGNING_TIME),
        expiry=_time(headers, EXPIRY),
        certificates=tuple(chain),
        timestamp=token,
        payload=payload,
        signed=signed,
        signature=signature,
    )


def _cbor(raw: bytes, what: str) -> object:
    try:
        return cbor2.loads(raw)
    # cbor2 raises its CBORDecodeError for most bad input, and whatever a tag's decoder
    # runs into for the rest (ValueError, OverflowError, TypeError...): all of it is bad input.
    except Exception as error:
        fail(f"the COSE {what} is not CBOR: {quote(str(error))}")


def _time(headers: Mapping[object, object], name: str) -> datetime.datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        fail(f"the header {name!r} is not a CBOR time (tag 1)")
    return value.astimezone(datetime.UTC)
