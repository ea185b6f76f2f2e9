"""Keyless signatures: the Fulcio certificate chain and the identity in the leaf certificate.

A Fulcio leaf lives ten minutes, so it is checked at the time Rekor logged the signature (the
verified bundle's ``integratedTime``), never at "now".

What ``cryptography.x509.verification`` does (a client verifier, ``PolicyBuilder().time(at)``,
the configured Fulcio certificates as the ``Store`` of trust anchors): it builds the path from
the leaf through the intermediates shipped in the ``dev.sigstore.cosign/chain`` annotation to
an anchor, by name and signature, with at most four intermediates; every certificate on the
path, anchor included, must be valid at ``at``; CA certificates (anchors included) need
critical ``basicConstraints`` with cA and a ``keyUsage`` with keyCertSign, and their path
length constraints and name constraints hold; the leaf must not be a CA and must carry a
subject alternative name; a critical extension the profile does not know refuses the
certificate; signatures use the Web PKI algorithms (ECDSA P-256/P-384/P-521, RSA of 2048 bits
or more, with SHA-256/384/512). The extension policies here swap the Web PKI's client-auth
EKU for code signing: the leaf's EKU must list code signing, and a CA with an EKU must allow
code signing (or any usage), as Go's ``crypto/x509`` requires for cosign. The leaf's
authority key identifier is optional (the library finds the issuer without it).

What this module adds (the library has no notion of these): a readable denial when no Fulcio
certificate is configured, when the leaf's extensions cannot be parsed at all (the identity
and SCT checks read them next), and when the leaf is not valid at ``at`` (naming both times;
the library would refuse it too, without saying why); the certificate that issued the leaf,
returned for the SCT check (``kenner.cosign.sct``); the identity below.

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
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from kenner.certs import ca_policy
from kenner.cosign.errors import Failure, Rejected

ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_MAX_INTERMEDIATES = 4  # the path is at most five certificates, anchor included
_MAX_QUOTE = 200
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
        Rejected: (``bad_certificate``) no anchor, an unreadable leaf, the leaf's validity
            window when ``at`` lies outside it, or the library's reason (truncated).
    """
    if not anchors:
        raise Rejected(Failure.BAD_CERTIFICATE, "no Fulcio certificate is configured")
    _readable(leaf)
    _valid_at(leaf, at)
    verifier = (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(at)
        .max_chain_depth(_MAX_INTERMEDIATES)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
        .build_client_verifier()
    )
    try:
        chain = verifier.verify(leaf, list(intermediates)).chain
    except VerificationError as error:
        raise Rejected(
            Failure.BAD_CERTIFICATE,
            f"the signing certificate does not chain to a configured Fulcio certificate at "
            f"{at.isoformat()} (the Rekor integration time): {_truncated(str(error))}",
        ) from None
    # chain[0] is the leaf, the last one the anchor (never the leaf: it may not be a CA).
    return chain[1]


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
            raw = der_utf8(raw)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return None
    return None


def der_utf8(raw: bytes) -> bytes:
    """The content of the DER UTF8String ``raw`` (a Fulcio extension's value); empty when it
    is not one (another tag, a length that disagrees, trailing bytes)."""
    # A short-form or long-form DER length; anything else is not a UTF8String.
    if len(raw) < 2 or raw[0] != _UTF8_STRING_TAG:
        return b""
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[offset : offset + length] if offset + length == len(raw) else b""


def _readable(leaf: x509.Certificate) -> None:
    # cryptography parses all extensions at once on first use; the leaf is the signer's to
    # shape, and the identity and SCT checks after this one read its extensions.
    try:
        leaf.extensions  # noqa: B018 - parsed for the side effect of refusing garbage
    except ValueError as error:
        raise Rejected(
            Failure.BAD_CERTIFICATE,
            f"the signing certificate's extensions cannot be parsed ({_truncated(str(error))})",
        ) from None


def _valid_at(leaf: x509.Certificate, at: datetime) -> None:
    # The library refuses this too, but without naming the window; a leaf outside it is the
    # common failure (a wrong integration time), so the denial says which times disagree.
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not start <= at <= end:
        raise Rejected(
            Failure.BAD_CERTIFICATE,
            f"the signing certificate is valid {start.isoformat()} to {end.isoformat()}, "
            f"not at {at.isoformat()} (the Rekor integration time)",
        )


def _truncated(text: str) -> str:
    return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."


def _leaf_usage(_policy: Policy, _leaf: x509.Certificate, usage: x509.ExtendedKeyUsage) -> None:
    if ExtendedKeyUsageOID.CODE_SIGNING not in usage:
        raise ValueError("the signing certificate is not for code signing")


# The Web PKI profile where it fits, with the EKU for code signing instead of client auth, and
# the authority key identifier optional on the leaf (a hint for finding the issuer, which
# the library finds by name and signature anyway).
_CA_POLICY = ca_policy(ExtendedKeyUsageOID.CODE_SIGNING, "code signing")
_LEAF_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _leaf_usage)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
)
