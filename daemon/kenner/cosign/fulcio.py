"""Keyless signatures: the Fulcio certificate chain and the identity in the leaf certificate.

A Fulcio leaf lives ten minutes, so it is checked at the time Rekor logged the signature (the
verified bundle's ``integratedTime``), never at "now". The path is built from the leaf through
the intermediates shipped in the ``dev.sigstore.cosign/chain`` annotation to one of the
configured Fulcio certificates; each link is checked by issuer name and signature, CA
certificates must be CAs allowed to sign certificates, and every certificate on the path,
anchor included, must be valid at that time. The leaf must be for code signing.

The identity is the leaf's subject alternative name (an e-mail address or URI) and the OIDC
issuer from Fulcio's extensions (``1.3.6.1.4.1.57264.1.8``, a DER UTF8String, or the older
``1.3.6.1.4.1.57264.1.1`` raw string). Regular expressions are searched, not anchored, as in
Cosign and Connaisseur (``issuerRegex: github`` matches ``https://github.com/login/oauth``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from kenner.cosign.errors import Failure, Rejected

ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_MAX_PATH = 5
_UTF8_STRING_TAG = 0x0C


@attrs.frozen
class Identity:
    """Who Fulcio certified: the OIDC issuer and the subject names."""

    issuer: str | None
    subjects: tuple[str, ...]


@attrs.frozen
class IdentityPolicy:
    """A keyless trust root's expected identity; unset fields match anything."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None

    def matches(self, identity: Identity) -> bool:
        """Whether ``identity`` satisfies every field that is set."""
        issuer = identity.issuer
        if self.issuer is not None and issuer != self.issuer:
            return False
        if self.issuer_regex is not None and (
            issuer is None or re.search(self.issuer_regex, issuer) is None
        ):
            return False
        if self.subject is not None and self.subject not in identity.subjects:
            return False
        return self.subject_regex is None or any(
            re.search(self.subject_regex, subject) for subject in identity.subjects
        )

    def __str__(self) -> str:
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("issuer", self.issuer),
                ("issuerRegex", self.issuer_regex),
                ("subject", self.subject),
                ("subjectRegex", self.subject_regex),
            )
            if value is not None
        ]
        return ", ".join(parts) or "any identity"


def load_certificates(pem: str | bytes, what: str) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM bundle.

    Raises:
        Rejected: (``bad_certificate``) not a PEM certificate bundle.
    """
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as error:
        raise Rejected(
            Failure.BAD_CERTIFICATE, f"{what} is not PEM certificates ({error})"
        ) from None


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> x509.Certificate:
    """Check that ``leaf`` chains to one of ``anchors`` and everything is valid at ``at``.

    Returns the certificate that issued ``leaf`` (an intermediate or an anchor): the log signed
    embedded SCTs over the hash of its key.

    Raises:
        Rejected: (``bad_certificate``) naming the certificate and the reason.
    """
    _valid_at(leaf, at, "the signing certificate")
    _check_leaf_usage(leaf)
    current = leaf
    leaf_issuer: x509.Certificate | None = None
    for _ in range(_MAX_PATH):
        for anchor in anchors:
            if _issued_by(current, anchor):
                _valid_at(anchor, at, f"the Fulcio certificate {anchor.subject.rfc4514_string()}")
                return anchor if leaf_issuer is None else leaf_issuer
        issuer = next((c for c in intermediates if c != current and _issued_by(current, c)), None)
        if issuer is None:
            name = current.issuer.rfc4514_string()
            raise Rejected(
                Failure.BAD_CERTIFICATE,
                f"no configured Fulcio certificate or shipped intermediate issued {name!r}",
            )
        _check_ca(issuer, at)
        leaf_issuer = issuer if leaf_issuer is None else leaf_issuer
        current = issuer
    raise Rejected(Failure.BAD_CERTIFICATE, f"the chain is longer than {_MAX_PATH} certificates")


def identity_of(leaf: x509.Certificate) -> Identity:
    """The issuer and subject names Fulcio put into ``leaf``."""
    subjects: list[str] = []
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        subjects += names.get_values_for_type(x509.RFC822Name)
        subjects += names.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        pass
    return Identity(_issuer(leaf), tuple(subjects))


def _issuer(leaf: x509.Certificate) -> str | None:
    for oid in (ISSUER_V2, ISSUER_V1):
        try:
            value = leaf.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        if oid == ISSUER_V2:
            raw = _der_utf8(raw)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return None
    return None


def _der_utf8(raw: bytes) -> bytes:
    # A short-form or long-form DER length; anything else is not a UTF8String.
    if len(raw) < 2 or raw[0] != _UTF8_STRING_TAG:
        return b""
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[offset : offset + length] if offset + length == len(raw) else b""


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _valid_at(cert: x509.Certificate, at: datetime, what: str) -> None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not start <= at <= end:
        raise Rejected(
            Failure.BAD_CERTIFICATE,
            f"{what} is valid {start.isoformat()} to {end.isoformat()}, "
            f"not at {at.isoformat()} (the Rekor integration time)",
        )


def _check_ca(cert: x509.Certificate, at: datetime) -> None:
    name = cert.subject.rfc4514_string()
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise Rejected(
            Failure.BAD_CERTIFICATE, f"intermediate {name!r} is not marked as CA"
        ) from None
    if not constraints.ca or not usage.key_cert_sign:
        raise Rejected(Failure.BAD_CERTIFICATE, f"intermediate {name!r} may not sign certificates")
    _valid_at(cert, at, f"the intermediate {name!r}")


def _check_leaf_usage(leaf: x509.Certificate) -> None:
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    except ValueError as error:
        # cryptography parses all extensions at once; the leaf is the signer's to shape.
        raise Rejected(
            Failure.BAD_CERTIFICATE,
            f"the signing certificate's extensions cannot be parsed ({error})",
        ) from None
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise Rejected(Failure.BAD_CERTIFICATE, "the signing certificate is not for code signing")
