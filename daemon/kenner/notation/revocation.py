"""Revocation from configured CRLs (no network at admission).

Rules (trust-store-trust-policy.md "Revocation Checking with CRL", narrowed to what an
admission webhook can do without fetching):

* Only the CRLs configured for the trust root count; kenner fetches none (no CRL distribution
  point is contacted). A certificate whose issuer has no configured CRL is not checked.
* A configured CRL applies to a certificate of the chain when its issuer name is the
  certificate's issuer and its signature verifies under the issuing certificate's key (the
  next certificate of the chain; a self-signed certificate's own). A CRL of a same-named other
  CA does not apply.
* A CRL that applies and whose nextUpdate has passed makes the status unavailable, which
  fails the check (the spec: "revoked or cannot be determined" fails).
* A certificate listed in an applying CRL is revoked, unless the entry's invalidity date is
  present, the signature has an authentic timestamp, and the invalidity date is not before it.
  certificateHold counts as revoked.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from kenner.notation.envelope import shown


def revocation_problem(
    chain: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    *,
    now: datetime.datetime,
    stamped_at: datetime.datetime | None,
) -> str | None:
    """Why the chain counts as revoked or its status is unavailable, or None."""
    for index, certificate in enumerate(chain):
        issuer = chain[index + 1] if index + 1 < len(chain) else certificate
        for crl in crls:
            if crl.issuer != certificate.issuer or not _signed_by(crl, issuer):
                continue
            name = shown(certificate.subject.rfc4514_string())
            next_update = crl.next_update_utc
            if next_update is not None and now > next_update:
                return f"the CRL for {name!r} is stale since {next_update.isoformat()}"
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if entry is not None and not _before_invalidity(entry, stamped_at):
                return f"the certificate {name!r} is revoked by a configured CRL"
    return None


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


def _before_invalidity(
    entry: x509.RevokedCertificate, stamped_at: datetime.datetime | None
) -> bool:
    if stamped_at is None:
        return False
    try:
        invalid = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return stamped_at <= invalid.invalidity_date_utc
