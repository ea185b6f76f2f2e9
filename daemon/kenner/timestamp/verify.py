"""Verifying a TimeStampToken over a message against configured TSA roots.

Checked, in this order (the first failure is the reason given):

1. The trust roots: at least one; each a CA (``basicConstraints`` cA) and self-issued
   (subject == issuer). Notation refuses any other certificate in a TSA trust store, and so
   does kenner: a leaf or an intermediate configured as a "root" fails every token
   (``unusable_trust_root``). ``check_trust_roots`` runs this alone, for the configuration.
2. The token parses (``kenner.timestamp.parse``: content type id-ct-TSTInfo, then the TSTInfo).
3. The message imprint: ``hash(message)`` with the TSTInfo's algorithm (SHA-256/384/512 only)
   equals its ``hashedMessage``. For Notation the message is the envelope's signature value.
4. The TSA certificate: the one the SignerInfo names (issuer and serial, or subject key
   identifier), among the token's certificates, the given intermediates and the roots.
5. It is a timestamping certificate (RFC 3161 2.3): its extended key usage is critical and is
   id-kp-timeStamping alone.
6. ``genTime`` lies within its validity (so a token signed after the TSA key expired fails,
   and says so, instead of failing as an untrusted chain).
7. The signed attributes (RFC 5652 5.3, RFC 3161 2.4.1, RFC 5816): each type at most once;
   content-type is id-ct-TSTInfo; message-digest is the digest of the TSTInfo octets; an ESS
   signing-certificate (v2, or v1 with SHA-1) attribute whose first ESSCertID hashes the TSA
   certificate (it binds the signer to that certificate, not only to its key).
8. The signature over the DER signed attributes: RSA PKCS#1 v1.5, RSA-PSS (with its
   parameters) or ECDSA, digest SHA-256/384/512 (SHA-1 and MD5 are refused).
9. The chain, with ``cryptography.x509.verification`` at ``genTime``: from the TSA certificate
   through the token's certificates and the given intermediates to a configured root, every
   certificate valid at ``genTime``, CA certificates with critical ``basicConstraints`` cA and
   keyCertSign, path length and name constraints held, a CA's extended key usage (if any)
   allowing timestamping, Web PKI signature algorithms (RSA >= 2048 bits, P-256/384/521).
   The leaf policy swaps the Web PKI's client-auth EKU for timestamping and does not require a
   subject alternative name (TSA certificates carry none).

Not checked: revocation of the TSA chain (no network at admission), the TSTInfo ``nonce``
and ``policy`` (there was no request to compare them with), the ``tsa`` name field.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
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
from kenner.timestamp.errors import Reason, TimestampError, shown
from kenner.timestamp.parse import (
    TST_INFO_TYPE,
    SignedToken,
    TstInfo,
    is_signer,
    parse_token,
)

_MAX_INTERMEDIATES = 4


@attrs.frozen
class VerifiedTimestamp:
    """A verified timestamp: the TSA vouches that the message existed at ``time``
    (± ``accuracy`` when the TSA states one)."""

    time: datetime.datetime  # aware, UTC
    accuracy: datetime.timedelta | None
    tsa_certificate: x509.Certificate

    @property
    def earliest(self) -> datetime.datetime:
        """The start of the interval the message existed in."""
        return self.time - (self.accuracy or datetime.timedelta())

    @property
    def latest(self) -> datetime.datetime:
        """The end of the interval the message existed in."""
        return self.time + (self.accuracy or datetime.timedelta())


def check_trust_roots(roots: Sequence[x509.Certificate]) -> None:
    """Refuse TSA trust roots that are not self-issued CA certificates (rule 1).

    Raises:
        TimestampError: ``unusable_trust_root``.
    """
    if not roots:
        raise TimestampError(Reason.BAD_TRUST_ROOT, "no TSA trust root is configured")
    for root in roots:
        name = shown(root.subject.rfc4514_string())
        if not _is_ca(root):
            raise TimestampError(
                Reason.BAD_TRUST_ROOT, f"the TSA trust root {name!r} is not a CA certificate"
            )
        if root.subject != root.issuer:
            raise TimestampError(
                Reason.BAD_TRUST_ROOT, f"the TSA trust root {name!r} is not self-issued"
            )


def verify_timestamp_token(
    token: bytes,
    *,
    message: bytes,
    trusted_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
) -> VerifiedTimestamp:
    """Verify ``token`` (a DER TimeStampToken) over ``message``; see the module rules.

    Raises:
        TimestampError: the first rule that fails, as its ``reason``.
    """
    check_trust_roots(trusted_roots)
    parsed = parse_token(token)
    info = parsed.tst_info
    _check_imprint(info, message)
    pool = [*parsed.certificates, *intermediates]
    tsa = _signer_certificate(parsed, [*pool, *trusted_roots])
    _check_usage(tsa)
    _check_validity(tsa, info.gen_time)
    _check_signed_attributes(parsed, tsa)
    _check_signature(parsed, tsa)
    _check_chain(tsa, [c for c in pool if c != tsa], trusted_roots, info.gen_time)
    return VerifiedTimestamp(time=info.gen_time, accuracy=info.accuracy, tsa_certificate=tsa)


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _digest(name: str, data: bytes, reason: Reason) -> bytes:
    hasher = hashes.Hash(_hash(name, reason))
    hasher.update(data)
    return hasher.finalize()


def _hash(name: str, reason: Reason) -> hashes.HashAlgorithm:
    kind = _HASHES.get(name)
    if kind is None:
        raise TimestampError(reason, f"the hash algorithm {shown(name)!r} is not supported")
    return kind()


def _check_imprint(info: TstInfo, message: bytes) -> None:
    if _digest(info.hash_algorithm, message, Reason.BAD_TSTINFO) != info.hashed_message:
        raise TimestampError(
            Reason.IMPRINT_MISMATCH, "the timestamp's message imprint does not match the message"
        )


def _signer_certificate(token: SignedToken, pool: Sequence[x509.Certificate]) -> x509.Certificate:
    for certificate in pool:
        if is_signer(token, certificate):
            return certificate
    raise TimestampError(
        Reason.NO_TSA_CERTIFICATE, "the certificate of the token's signer is not in the token"
    )


def _check_usage(tsa: x509.Certificate) -> None:
    name = shown(tsa.subject.rfc4514_string())
    try:
        usage = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError(
            Reason.NOT_TIMESTAMPING, f"the TSA certificate {name!r} has no extended key usage"
        ) from None
    except ValueError as error:  # duplicate or unparsable extensions
        raise TimestampError(
            Reason.NOT_TIMESTAMPING,
            f"the TSA certificate {name!r} has unreadable extensions: {shown(str(error))}",
        ) from None
    if not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError(
            Reason.NOT_TIMESTAMPING,
            f"the TSA certificate {name!r} is not a timestamping certificate (its extended key "
            "usage must be critical and id-kp-timeStamping alone)",
        )


def _check_validity(tsa: x509.Certificate, at: datetime.datetime) -> None:
    start, end = tsa.not_valid_before_utc, tsa.not_valid_after_utc
    if not start <= at <= end:
        raise TimestampError(
            Reason.OUTSIDE_VALIDITY,
            f"the timestamp {at.isoformat()} lies outside the TSA certificate's validity "
            f"({start.isoformat()} to {end.isoformat()})",
        )


def _check_signed_attributes(token: SignedToken, tsa: x509.Certificate) -> None:
    names = [attribute.name for attribute in token.signed_attributes]
    if len(set(names)) != len(names):
        raise TimestampError(Reason.BAD_SIGNATURE, "a signed attribute occurs twice")
    values: dict[str, Any] = {}
    for attribute in token.signed_attributes:
        if len(attribute.values) != 1:
            raise TimestampError(
                Reason.BAD_SIGNATURE, f"the signed attribute {attribute.name!r} has not one value"
            )
        values[attribute.name] = attribute.values[0]
    content_type = values.get("content_type")
    if content_type is None or content_type.dotted != TST_INFO_TYPE:
        raise TimestampError(
            Reason.BAD_SIGNATURE, "the signed content-type attribute is not id-ct-TSTInfo"
        )
    digest = values.get("message_digest")
    expected = _digest(token.digest_algorithm, token.tst_info_der, Reason.BAD_SIGNATURE)
    if digest is None or digest.native != expected:
        raise TimestampError(
            Reason.BAD_SIGNATURE, "the signed message-digest attribute does not match the TSTInfo"
        )
    _check_signing_certificate(values, tsa)


def _check_signing_certificate(values: dict[str, Any], tsa: x509.Certificate) -> None:
    try:
        _check_ess_certificate(values, tsa)
    except (IndexError, KeyError, TypeError, ValueError) as error:  # an empty or odd ESS list
        raise TimestampError(
            Reason.BAD_SIGNATURE,
            f"the ESS signing-certificate attribute cannot be read: {shown(str(error))}",
        ) from None


def _check_ess_certificate(values: dict[str, Any], tsa: x509.Certificate) -> None:
    der = tsa.public_bytes(serialization.Encoding.DER)
    if "signing_certificate_v2" in values:
        first = values["signing_certificate_v2"]["certs"][0]
        algorithm = str(first["hash_algorithm"]["algorithm"].native)
        expected = _digest(algorithm, der, Reason.BAD_SIGNATURE)
    elif "signing_certificate" in values:
        first = values["signing_certificate"]["certs"][0]
        # ESSCertID (v1) is SHA-1 by definition; it names the certificate, the signature
        # itself still uses SHA-2.
        hasher = hashes.Hash(hashes.SHA1())  # noqa: S303
        hasher.update(der)
        expected = hasher.finalize()
    else:
        raise TimestampError(
            Reason.BAD_SIGNATURE, "the token has no signed ESS signing-certificate attribute"
        )
    if first["cert_hash"].native != expected:
        raise TimestampError(
            Reason.BAD_SIGNATURE,
            "the ESS signing-certificate attribute names another certificate than the signer's",
        )


def _check_signature(token: SignedToken, tsa: x509.Certificate) -> None:
    algorithm = token.signature_algorithm
    digest = _hash(token.digest_algorithm, Reason.BAD_SIGNATURE)
    data, signature = token.signed_attributes_der, token.signature
    try:
        key = tsa.public_key()
        kind = str(algorithm.signature_algo)
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            _same_hash(algorithm, token.digest_algorithm)
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _pss(algorithm["parameters"]), digest)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            _same_hash(algorithm, token.digest_algorithm)
            key.verify(signature, data, ec.ECDSA(digest))
        else:
            raise TimestampError(
                Reason.BAD_SIGNATURE,
                f"the signature algorithm {shown(kind)!r} does not fit the TSA certificate's key",
            )
    except InvalidSignature:
        raise TimestampError(Reason.BAD_SIGNATURE, "the TSA's signature does not verify") from None
    except (ValueError, UnsupportedAlgorithm, KeyError, TypeError) as error:
        raise TimestampError(
            Reason.BAD_SIGNATURE, f"the TSA's signature cannot be checked: {shown(str(error))}"
        ) from None


def _same_hash(algorithm: Any, digest_algorithm: str) -> None:
    # "sha256_rsa" names its hash; a bare "rsassa_pkcs1v15"/"ecdsa" OID does not (asn1crypto
    # raises ValueError for hash_algo then): the SignerInfo's digestAlgorithm decides.
    try:
        named = str(algorithm.hash_algo)
    except ValueError:
        return
    if named != digest_algorithm:
        raise TimestampError(
            Reason.BAD_SIGNATURE,
            f"the signature hash {shown(named)!r} differs from the digest algorithm",
        )


def _pss(parameters: Any) -> padding.PSS:
    mask = parameters["mask_gen_algorithm"]
    if mask["algorithm"].native != "mgf1":
        raise ValueError("the RSA-PSS mask generation is not MGF1")
    mgf_hash = _hash(str(mask["parameters"]["algorithm"].native), Reason.BAD_SIGNATURE)
    salt = int(parameters["salt_length"].native)
    return padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=salt)


def _check_chain(
    tsa: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: datetime.datetime,
) -> None:
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(at)
        .max_chain_depth(_MAX_INTERMEDIATES)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
        .build_client_verifier()
    )
    try:
        verifier.verify(tsa, list(intermediates))
    except (VerificationError, ValueError) as error:
        raise TimestampError(
            Reason.UNTRUSTED,
            f"the TSA certificate {shown(tsa.subject.rfc4514_string())!r} does not chain to "
            f"a trusted TSA root at {at.isoformat()}: {shown(str(error))}",
        ) from None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return constraints.value.ca


def _timestamping(_policy: Policy, _leaf: x509.Certificate, usage: x509.ExtendedKeyUsage) -> None:
    if list(usage) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ValueError("the TSA certificate's extended key usage is not timestamping alone")


_CA_POLICY = ca_policy(ExtendedKeyUsageOID.TIME_STAMPING, "timestamping")
_LEAF_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .require_present(x509.ExtendedKeyUsage, Criticality.CRITICAL, _timestamping)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
)
