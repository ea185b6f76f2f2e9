"""The envelope's certificate chain: its shape, the certificate requirements, the trust root.

Rules (signature-specification.md "Certificate Requirements", trust-store-trust-policy.md
"Validate Authenticity"):

* The envelope carries the complete chain, leaf first, ending in a self-signed root; a single
  certificate is a self-signed signing certificate (Notation's "self-signed" mode).
* The leaf is a code signing certificate: a critical key usage with digitalSignature; if it
  has an extended key usage, it lists codeSigning; if it has basic constraints, it is no CA.
* The chain is trusted when one of its certificates is (byte for byte) a certificate of the
  trust root; the chain must be exactly the verified path (each certificate issued by the
  next), so that certificate is the root or an intermediate on the path, never one carried
  alongside.

What ``cryptography.x509.verification`` does for a chain of two or more: it builds the path
from the leaf through the envelope's intermediates to the envelope's last certificate as the
anchor, by name and signature, at most five certificates deep; CA certificates need critical
basic constraints with cA and keyCertSign, their path length and name constraints hold, a
CA's extended key usage (if any) must allow code signing; signatures use the Web PKI
algorithms (RSA >= 2048 bits, P-256/384/521, SHA-256/384/512); a critical extension it does
not know refuses the certificate. It checks the path at one time, where Notation checks
validity separately (the authentic timestamp step, ``kenner.notation.verify``): so the path is
checked at the latest start of validity among the chain's certificates, and a chain whose
validity periods do not overlap fails here.

What it lacks, and this module covers: the self-signed leaf as its own trust root (checked
here: self-issued, its signature verifies under its own key, the leaf requirements); the leaf
requirements above (the library's leaf policy is relaxed to take them: no subject alternative
name or authority key identifier needed, any extended key usage checked here); the "complete
chain" rule (the anchor is the envelope's own root, never a certificate from elsewhere); the
trust root match.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence
from typing import NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from kenner.certs import ca_policy
from kenner.notation.envelope import fail, shown
from kenner.notation.errors import Check, NotationError

_MAX_INTERMEDIATES = 4


def load_chain(ders: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    """The envelope's certificates; one that does not parse fails the envelope's integrity."""
    try:
        with warnings.catch_warnings():
            # A non-positive serial (RFC 5280 forbids it) is only a warning in cryptography.
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            chain = tuple(x509.load_der_x509_certificate(der) for der in ders)
            for certificate in chain:  # names are decoded lazily: fail here, not in a message
                certificate.subject.rfc4514_string()
                certificate.issuer.rfc4514_string()
    # TypeError: a name attribute whose ASN.1 type its OID does not allow (a BIT STRING).
    except (ValueError, TypeError, CryptographyDeprecationWarning) as error:
        fail(f"a certificate of the envelope does not parse: {shown(str(error))}")
    return chain


def check_chain(chain: Sequence[x509.Certificate]) -> None:
    """Check the chain's shape and the certificate requirements (module rules).

    Raises:
        NotationError: ``untrusted_chain``.
    """
    leaf = chain[0]
    _check_leaf(leaf)
    root = chain[-1]
    if not _self_signed(root):
        _untrusted(f"the envelope's chain does not end in a self-signed root ({_name(root)})")
    if len(chain) == 1:
        return
    at = max(c.not_valid_before_utc for c in chain)
    if at > min(c.not_valid_after_utc for c in chain):
        _untrusted("the validity periods of the envelope's certificates do not overlap")
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(at)
        .max_chain_depth(_MAX_INTERMEDIATES)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
        .build_client_verifier()
    )
    try:
        path = verifier.verify(leaf, list(chain[1:-1])).chain
    except (VerificationError, ValueError) as error:
        _untrusted(f"the envelope's certificate chain is not valid: {shown(str(error))}")
    # The builder may leave an envelope certificate unused; the trust root match reads the
    # whole envelope chain, so an unused one (someone else's root) must not be there.
    if list(path) != list(chain):
        _untrusted(
            "the envelope's chain is not one path: each certificate must issue the one before"
        )


def is_trusted(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]) -> bool:
    """Whether a certificate of the (checked) chain is one of the trust root's certificates."""
    return any(certificate in roots for certificate in chain)


def _check_leaf(leaf: x509.Certificate) -> None:
    try:
        extensions = leaf.extensions
    except ValueError as error:
        _untrusted(f"the signing certificate's extensions do not parse: {shown(str(error))}")
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        _untrusted(f"the signing certificate {_name(leaf)} has no key usage")
    if not usage.critical or not usage.value.digital_signature:
        _untrusted(f"the signing certificate {_name(leaf)} lacks a critical digitalSignature")
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        purposes = None
    if purposes is not None and ExtendedKeyUsageOID.CODE_SIGNING not in purposes:
        _untrusted(f"the signing certificate {_name(leaf)} is not for code signing")
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        _untrusted(f"the signing certificate {_name(leaf)} is a CA certificate")


def _self_signed(certificate: x509.Certificate) -> bool:
    if certificate.subject != certificate.issuer:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _name(certificate: x509.Certificate) -> str:
    return repr(shown(certificate.subject.rfc4514_string()))


def _untrusted(message: str) -> NoReturn:
    raise NotationError(Check.AUTHENTICITY, message)


def _leaf_usage(_policy: Policy, _leaf: x509.Certificate, _usage: object) -> None:
    return None  # checked by _check_leaf, with a readable message


_CA_POLICY = ca_policy(ExtendedKeyUsageOID.CODE_SIGNING, "code signing")
_LEAF_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _leaf_usage)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
)


def validity_problem(
    chain: Sequence[x509.Certificate], start: datetime.datetime, end: datetime.datetime
) -> str | None:
    """Why [``start``, ``end``] is not entirely within every certificate's validity, or None."""
    for certificate in chain:
        if start < certificate.not_valid_before_utc:
            return (
                f"{start.isoformat()} is before the validity of certificate "
                f"{_name(certificate)}, valid from {certificate.not_valid_before_utc.isoformat()}"
            )
        if end > certificate.not_valid_after_utc:
            return (
                f"{end.isoformat()} is after the validity of certificate {_name(certificate)}, "
                f"it expired at {certificate.not_valid_after_utc.isoformat()}"
            )
    return None
