"""Embedded SCTs of Fulcio certificates, checked offline against the configured CT log key.

Fulcio logs every certificate it issues in a Certificate Transparency log and embeds the log's
promise, a Signed Certificate Timestamp, in the certificate (RFC 6962 s3.3: extension
``1.3.6.1.4.1.11129.2.4.2``). An SCT that verifies with the CT log key shows that the
certificate is publicly visible, so a Fulcio instance (or a stolen Fulcio key) cannot certify
an identity in secret.

The log signed, as a TLS ``digitally-signed`` struct (RFC 6962 s3.2), the precertificate entry:
``version (0) | signature_type (0, certificate_timestamp) | timestamp (uint64, ms) |
entry_type (1, precert_entry) | issuer_key_hash (SHA-256 of the issuer's DER
SubjectPublicKeyInfo) | tbs_certificate (uint24 length, the leaf's TBS without the SCT list) |
extensions (uint16 length)``. The log id is the SHA-256 of the log key's DER
SubjectPublicKeyInfo. RFC 6962 logs sign with ECDSA (P-256) or RSA PKCS#1 v1.5, both over
SHA-256.

One SCT from the configured log that verifies, and whose timestamp lies within the
certificate's validity, is enough; SCTs of other logs are ignored.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.certificate_transparency import (
    LogEntryType,
    SignatureAlgorithm,
    SignedCertificateTimestamp,
)

from kenner.cosign.errors import Failure, Rejected, UnusableKey
from kenner.cosign.keys import load_public_key

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCT_VERSION_V1 = 0
_CERTIFICATE_TIMESTAMP = 0
_PRECERT_ENTRY = 1


@attrs.frozen
class CtLog:
    """A CT log whose SCTs are trusted (``host.ctLogPubkey``): its log id and key."""

    log_id: bytes
    _key: PublicKeyTypes = attrs.field(repr=False, eq=False)

    @property
    def name(self) -> str:
        """How denial reasons name the log: ``ctLogPubkey`` and its hex log id."""
        return f"ctLogPubkey (log id {self.log_id.hex()})"

    def signature_problem(self, sct: SignedCertificateTimestamp, signed_data: bytes) -> str:
        """Why ``sct``'s signature over ``signed_data`` is not this log's ("" when it is)."""
        # The SCT names its algorithms; they must be RFC 6962's and fit the configured key.
        algorithm, key = sct.signature_algorithm, self._key
        if not isinstance(sct.signature_hash_algorithm, hashes.SHA256):
            hashed = sct.signature_hash_algorithm.name
            return f"the SCT is signed over {hashed}, not SHA-256 as RFC 6962 requires"
        try:
            if algorithm == SignatureAlgorithm.ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(sct.signature, signed_data, ec.ECDSA(hashes.SHA256()))
            elif algorithm == SignatureAlgorithm.RSA and isinstance(key, rsa.RSAPublicKey):
                key.verify(sct.signature, signed_data, padding.PKCS1v15(), hashes.SHA256())
            else:
                kind = type(key).__name__.removesuffix("PublicKey")
                return f"the SCT has an {algorithm.name} signature, but {self.name} is {kind}"
        except InvalidSignature:
            return f"the SCT signature does not verify with {self.name}"
        return ""


def load_ct_log(pem: str | bytes) -> CtLog:
    """The CT log of a PEM ``PUBLIC KEY``.

    Raises:
        UnusableKey: not a PEM public key, or not an ECDSA or RSA key (RFC 6962 logs sign
            with nothing else, so any other key could never verify an SCT).
    """
    der = load_public_key(pem).der
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        kind = type(key).__name__.removesuffix("PublicKey")
        raise UnusableKey(f"a CT log signs with ECDSA or RSA, and this is an {kind} key")
    return CtLog(hashlib.sha256(der).digest(), key)


def verify_embedded_sct(leaf: x509.Certificate, issuer: x509.Certificate, log: CtLog) -> datetime:
    """Check that ``leaf`` carries an SCT of ``log`` that verifies; return its timestamp (UTC).

    ``issuer`` is the (already verified) certificate that issued ``leaf``: the log signed the
    hash of its key.

    Raises:
        Rejected: (``bad_sct``) no SCT, none from ``log``, or none of ``log``'s verifies.
    """
    scts = _embedded_scts(leaf, log)
    ours = [sct for sct in scts if sct.log_id == log.log_id]
    if not ours:
        others = ", ".join(sct.log_id.hex() for sct in scts)
        raise Rejected(
            Failure.BAD_SCT,
            f"the signing certificate's SCT is from another CT log (log id {others}), "
            f"not from {log.name}",
        )
    problems = []
    for sct in ours:
        problem = _problem(sct, leaf, issuer, log)
        if problem is None:
            return sct.timestamp.replace(tzinfo=UTC)
        problems.append(problem)
    raise Rejected(Failure.BAD_SCT, "; ".join(problems))


def _embedded_scts(leaf: x509.Certificate, log: CtLog) -> tuple[SignedCertificateTimestamp, ...]:
    try:
        extension = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        )
    except x509.ExtensionNotFound:
        scts: tuple[SignedCertificateTimestamp, ...] = ()
    except ValueError as error:
        raise Rejected(
            Failure.BAD_SCT, f"the signing certificate's SCT list cannot be parsed ({error})"
        ) from None
    else:
        scts = tuple(extension.value)
    if not scts:
        raise Rejected(
            Failure.BAD_SCT,
            f"the signing certificate has no embedded SCT, but {log.name} requires one",
        )
    return scts


def _problem(
    sct: SignedCertificateTimestamp, leaf: x509.Certificate, issuer: x509.Certificate, log: CtLog
) -> str | None:
    if sct.entry_type != LogEntryType.PRE_CERTIFICATE:
        # An embedded SCT can only be for the precertificate: the final one did not exist yet.
        return "the embedded SCT is not for a precertificate entry"
    bad_signature = log.signature_problem(sct, _signed_data(sct, leaf, issuer))
    if bad_signature:
        return bad_signature
    logged = sct.timestamp.replace(tzinfo=UTC)
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not start <= logged <= end:
        return (
            f"the SCT timestamp {logged.isoformat()} lies outside the signing certificate's "
            f"validity {start.isoformat()} to {end.isoformat()}"
        )
    return None


def _signed_data(
    sct: SignedCertificateTimestamp, leaf: x509.Certificate, issuer: x509.Certificate
) -> bytes:
    issuer_spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tbs = leaf.tbs_precertificate_bytes
    milliseconds = (sct.timestamp.replace(tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
    return b"".join(
        (
            bytes((_SCT_VERSION_V1, _CERTIFICATE_TIMESTAMP)),
            milliseconds.to_bytes(8, "big"),
            _PRECERT_ENTRY.to_bytes(2, "big"),
            hashlib.sha256(issuer_spki).digest(),
            len(tbs).to_bytes(3, "big"),
            tbs,
            len(sct.extension_bytes).to_bytes(2, "big"),
            sct.extension_bytes,
        )
    )
