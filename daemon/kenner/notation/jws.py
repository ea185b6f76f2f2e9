"""JWS envelopes (``application/jose+json``): the JSON serialization, flattened, one signature.

Rules (RFC 7515 and the Notary Project's signature-envelope-jws.md):

* The envelope is a JSON object with exactly ``payload``, ``protected``, ``header`` and
  ``signature``; a key twice anywhere fails (the parser rejects duplicates, so no two readers
  can see two different values).
* ``protected`` is base64url (no padding) of a JSON object: ``alg`` (PS256/384/512,
  ES256/384/512), ``cty``, ``crit`` and the Notary headers (``kenner.notation.envelope``);
  times are RFC 3339 strings with a time zone.
* ``header`` (unsigned) holds ``x5c`` (standard base64 DER certificates, leaf first), and may
  hold ``io.cncf.notary.timestampSignature`` (standard base64 of the TimeStampToken); other
  unsigned headers (the signing agent, under either spelling notation-go used) are ignored:
  nothing signed depends on them.
* The signature covers ``ASCII(protected || "." || payload)``, both as sent.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Mapping

from kenner.notation.envelope import (
    AUTHENTIC_SIGNING_TIME,
    EXPIRY,
    JWS_MEDIA_TYPE,
    SCHEME,
    SIGNING_TIME,
    TIMESTAMP_SIGNATURE,
    Envelope,
    certificate_count,
    check_signed_headers,
    fail,
)
from kenner.quoting import quote

ALGORITHMS = frozenset({"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
_KEYS = frozenset({"payload", "protected", "header", "signature"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def parse(raw: bytes) -> Envelope:
    """Parse a flattened JWS JSON envelope; see the module rules."""
    document = _json(raw, "envelope")
    if set(document) != _KEYS:
        fail(f"the JWS envelope's keys are not exactly {sorted(_KEYS)}")
    protected_text, payload_text = document["protected"], document["payload"]
    if not isinstance(protected_text, str) or not isinstance(payload_text, str):
        fail("the JWS protected header and payload must be strings")
    headers = _json(_base64url(protected_text, "protected header"), "protected header")
    algorithm = headers.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        fail(f"the JWS algorithm {quote(algorithm)} is not supported")
    crit = headers.get("crit")
    if not isinstance(crit, list) or not crit:
        fail("the JWS protected header has no critical headers list")
    check_signed_headers(headers, crit, content_type=headers.get("cty"))
    unsigned = document["header"]
    if not isinstance(unsigned, dict):
        fail("the JWS unprotected header is not a JSON object")
    chain = unsigned.get("x5c")
    if not isinstance(chain, list):
        fail("the JWS unprotected header has no x5c certificate list")
    certificate_count(len(chain))
    token = unsigned.get(TIMESTAMP_SIGNATURE)
    signature = document["signature"]
    if not isinstance(signature, str):
        fail("the JWS signature must be a string")
    return Envelope(
        media_type=JWS_MEDIA_TYPE,
        algorithm=str(algorithm),
        scheme=str(headers[SCHEME]),
        signing_time=_time(headers, SIGNING_TIME),
        authentic_signing_time=_time(headers, AUTHENTIC_SIGNING_TIME),
        expiry=_time(headers, EXPIRY),
        certificates=tuple(_base64(c, "x5c certificate") for c in chain),
        timestamp=None if token is None else _base64(token, "timestamp signature"),
        payload=_base64url(payload_text, "payload"),
        signed=f"{protected_text}.{payload_text}".encode("ascii"),
        signature=_base64url(signature, "signature"),
    )


def _json(raw: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(raw, object_pairs_hook=_unique)
    except (ValueError, RecursionError) as error:
        fail(f"the JWS {what} is not JSON: {quote(str(error))}")
    if not isinstance(value, dict):
        fail(f"the JWS {what} is not a JSON object")
    return value


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("a key occurs twice")
    return result


def _base64url(text: str, what: str) -> bytes:
    if _BASE64URL.fullmatch(text) is None or len(text) % 4 == 1:
        fail(f"the JWS {what} is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _base64(text: object, what: str) -> bytes:
    if not isinstance(text, str) or _BASE64.fullmatch(text) is None:
        fail(f"the JWS {what} is not base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        fail(f"the JWS {what} is not base64")


def _time(headers: Mapping[str, object], name: str) -> datetime.datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        fail(f"the header {name!r} is not an RFC 3339 time")
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        fail(f"the header {name!r} is not an RFC 3339 time: {quote(value)}")
    if parsed.tzinfo is None or "T" not in value.upper():
        fail(f"the header {name!r} has no time zone: {quote(value)}")
    return parsed.astimezone(datetime.UTC)
