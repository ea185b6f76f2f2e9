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

One SCT from a trusted log that verifies, and whose timestamp lies within the certificate's
validity and within the log's own validity window (a ``trusted_root.json`` CT log's
``validFor``, inclusive; as sigstore-go, the SCT's timestamp is the time the window is checked
at, not the clock), is enough; SCTs of other logs are ignored. ``host.ctLogPubkey`` has no
window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
    """A CT log whose SCTs are trusted (``host.ctLogPubkey`` or a trusted root's CT log): its
    log id, key and the window its SCTs must be dated in (None: open)."""

    log_id: bytes
    _key: PublicKeyTypes = attrs.field(repr=False, eq=False)
    label: str | None = None  # the trusted root's base URL; None: ``host.ctLogPubkey``
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def name(self) -> str:
        """How denial reasons name the log: its base URL, or ``ctLogPubkey`` and its hex id."""
        return self.label or f"ctLogPubkey (log id {self.log_id.hex()})"

    def window_problem(self, logged: datetime) -> str:
        """Why an SCT dated ``logged`` is outside this log's window ("" when it is inside)."""
        early = self.valid_from is not None and logged < self.valid_from
        late = self.valid_until is not None and logged > self.valid_until
        if not early and not late:
            return ""
        start = "open" if self.valid_from is None else self.valid_from.isoformat()
        end = "open" if self.valid_until is None else self.valid_until.isoformat()
        return (
            f"CT log validity check: the SCT of {self.name} is dated {logged.isoformat()}, "
            f"outside the log's validity {start} to {end}"
        )

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
    return verify_embedded_scts(leaf, issuer, (log,))


def verify_embedded_scts(
    leaf: x509.Certificate, issuer: x509.Certificate, logs: Sequence[CtLog]
) -> datetime:
    """Check that ``leaf`` carries an SCT of one of ``logs`` that verifies (each SCT is tried
    with every log of its log id); return its timestamp (UTC).

    Raises:
        Rejected: (``bad_sct``) no SCT, none from these logs, or none of theirs verifies.
    """
    names = " or ".join(log.name for log in logs)
    scts = _embedded_scts(leaf, names)
    problems = []
    for sct in scts:
        for log in logs:
            if sct.log_id != log.log_id:
                continue
            problem = _problem(sct, leaf, issuer, log)
            if problem is None:
                return sct.timestamp.replace(tzinfo=UTC)
            problems.append(problem)
    if not problems:
        others = ", ".join(sct.log_id.hex() for sct in scts)
        raise Rejected(
            Failure.BAD_SCT,
            f"the signing certificate's SCT is from another CT log (log id {others}), "
            f"not from {names}",
        )
    raise Rejected(Failure.BAD_SCT, "; ".join(problems))


def _embedded_scts(leaf: x509.Certificate, names: str) -> tuple[SignedCertificateTimestamp, ...]:
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
            f"the signing certificate has no embedded SCT, but {names} requires one",
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
    return log.window_problem(logged) or None


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
