"""The parts of a Notation signature envelope that verification reads, whatever its format.

``kenner.notation.jws`` (``application/jose+json``) and ``kenner.notation.cose``
(``application/cose``) parse into an ``Envelope``; ``kenner.notation.formats`` picks by media
type.

Rules on the signed (protected) headers, the Notary Project signature specification's:

* the content type is ``application/vnd.cncf.notary.payload.v1+json``;
* ``io.cncf.notary.signingScheme`` is ``notary.x509`` or ``notary.x509.signingAuthority``;
* ``notary.x509`` carries ``io.cncf.notary.signingTime`` (a claim, not authentic);
  ``notary.x509.signingAuthority`` carries ``io.cncf.notary.authenticSigningTime`` (vouched
  for by the signing authority) and no RFC 3161 timestamp is read for it;
* ``io.cncf.notary.expiry`` is optional;
* the critical-headers list (``crit``) names ``io.cncf.notary.signingScheme``, and
  ``io.cncf.notary.expiry`` / ``io.cncf.notary.authenticSigningTime`` when present; it may
  name only headers kenner understands (the scheme, the times, the expiry): a critical header
  for a verification plugin, or any unknown one, fails the envelope, as the spec requires of a
  verifier that does not understand it. Every name it lists must be present.

Unsigned headers: the certificate chain (leaf first, then the rest up to the root), the
signing agent (ignored), and for ``notary.x509`` the RFC 3161 timestamp token.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import attrs

from kenner.notation.errors import Check, NotationError
from kenner.quoting import clip, quote

PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
JWS_MEDIA_TYPE = "application/jose+json"
COSE_MEDIA_TYPE = "application/cose"
SCHEME_X509 = "notary.x509"
SCHEME_AUTHORITY = "notary.x509.signingAuthority"
SCHEME = "io.cncf.notary.signingScheme"
SIGNING_TIME = "io.cncf.notary.signingTime"
AUTHENTIC_SIGNING_TIME = "io.cncf.notary.authenticSigningTime"
EXPIRY = "io.cncf.notary.expiry"
TIMESTAMP_SIGNATURE = "io.cncf.notary.timestampSignature"
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_CERTIFICATES = 10
_UNDERSTOOD = frozenset({SCHEME, SIGNING_TIME, AUTHENTIC_SIGNING_TIME, EXPIRY})


@attrs.frozen
class Envelope:
    """A parsed envelope; ``signed`` is what ``signature`` covers (format specific)."""

    media_type: str
    algorithm: str  # the JWS name: PS256/384/512, ES256/384/512
    scheme: str
    signing_time: datetime.datetime | None  # notary.x509's claimed time
    authentic_signing_time: datetime.datetime | None  # notary.x509.signingAuthority's
    expiry: datetime.datetime | None
    certificates: tuple[bytes, ...]  # DER, leaf first
    timestamp: bytes | None  # the RFC 3161 TimeStampToken (notary.x509 only)
    payload: bytes
    signed: bytes
    signature: bytes  # for ECDSA the raw r || s of the JOSE/COSE formats


def fail(message: str) -> NoReturn:
    """Raise the integrity failure ``message``."""
    raise NotationError(Check.INTEGRITY, message)


def check_signed_headers(
    headers: Mapping[Any, object], crit: Iterable[object], *, content_type: object
) -> None:
    """The rules on ``crit``, the content type and the scheme (module docstring)."""
    if content_type != PAYLOAD_TYPE:
        fail(f"the signed content type is {quote(content_type)}, not {PAYLOAD_TYPE!r}")
    scheme = headers.get(SCHEME)
    if scheme not in (SCHEME_X509, SCHEME_AUTHORITY):
        fail(f"the signing scheme {quote(scheme)} is not supported")
    critical = list(crit)
    if not all(isinstance(name, str) for name in critical):
        fail("the critical headers list holds a name that is not a string")
    if len(critical) > len(_UNDERSTOOD) or len(set(critical)) != len(critical):
        fail("the critical headers list is too long or names a header twice")
    for name in critical:
        if name not in _UNDERSTOOD:
            fail(f"the critical header {quote(name)} is not understood")
        if name not in headers:
            fail(f"the critical header {quote(name)} is missing")
    required = [SCHEME] + [h for h in (EXPIRY, AUTHENTIC_SIGNING_TIME) if h in headers]
    for name in required:
        if name not in critical:
            fail(f"the header {name!r} is not marked critical")
    if scheme == SCHEME_X509 and SIGNING_TIME not in headers:
        fail(f"the notary.x509 envelope has no {SIGNING_TIME!r}")
    if scheme == SCHEME_AUTHORITY and AUTHENTIC_SIGNING_TIME not in headers:
        fail(f"the notary.x509.signingAuthority envelope has no {AUTHENTIC_SIGNING_TIME!r}")
    if scheme == SCHEME_X509 and AUTHENTIC_SIGNING_TIME in headers:
        fail(f"a notary.x509 envelope may not carry {AUTHENTIC_SIGNING_TIME!r}")


def certificate_count(count: int) -> None:
    """At least one certificate, at most ``MAX_CERTIFICATES``."""
    if not 1 <= count <= MAX_CERTIFICATES:
        fail(f"the envelope holds {count} certificates, not 1 to {MAX_CERTIFICATES}")


def shown(text: str) -> str:
    """Library text for a message: on one line, clipped."""
    return clip(" ".join(text.split()))
