"""A timestamping authority of the tests' own: a root CA, a TSA certificate, RFC 3161 tokens.

Every knob makes one thing wrong, so a negative test breaks exactly the rule it is about.
Keys are ECDSA P-256 (fast); tokens are DER CMS SignedData built with asn1crypto.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence

import attrs
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.certs import key_usage

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@attrs.frozen
class Tsa:
    """A TSA: its root (the trust anchor), its signing certificate and key."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tsa(
    *,
    name: str = "Test TSA",
    eku: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.TIME_STAMPING,),
    eku_critical: bool = True,
    not_before: datetime.datetime = NOW - 365 * DAY,
    not_after: datetime.datetime = NOW + 365 * DAY,
) -> Tsa:
    """A root CA and a TSA certificate it issued, valid from ``not_before`` to ``not_after``."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} Root"))
        .issuer_name(_name(f"{name} Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 3650 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    return Tsa(root, root_key, builder.sign(root_key, hashes.SHA256()), key)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def stamp(
    tsa: Tsa,
    message: bytes,
    *,
    at: datetime.datetime = NOW,
    imprint_hash: str = "sha256",
    content_type: str = "tst_info",
    signed_content_type: str = "tst_info",
    tst_info: bytes | None = None,
    accuracy_seconds: int | None = 1,
    signing_certificate: bool = True,
    ess_certs: list[dict[str, object]] | None = None,
    signer: x509.Certificate | None = None,
    include_certificates: bool = True,
    tamper_signature: bool = False,
    tamper_digest: bool = False,
) -> bytes:
    """A DER TimeStampToken by ``tsa`` over ``message`` at ``at``; the knobs break one thing."""
    hashed = hashlib.new(imprint_hash, message).digest()
    info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": "1.2.3.4",
            "message_imprint": {
                "hash_algorithm": {"algorithm": imprint_hash},
                "hashed_message": hashed,
            },
            "serial_number": 7,
            "gen_time": at,
            "accuracy": None if accuracy_seconds is None else {"seconds": accuracy_seconds},
        }
    )
    econtent = info.dump() if tst_info is None else tst_info
    digest = hashlib.sha256(econtent).digest()
    if tamper_digest:
        digest = bytes(32)
    named = signer or tsa.certificate
    attributes = [
        {"type": "content_type", "values": [signed_content_type]},
        {"type": "message_digest", "values": [digest]},
    ]
    if signing_certificate:
        attributes.append(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": ess_certs
                        if ess_certs is not None
                        else [{"cert_hash": hashlib.sha256(_der(named)).digest()}]
                    }
                ],
            }
        )
    signed_attrs = cms.CMSAttributes(attributes)
    signature = tsa.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    if tamper_signature:
        signature = tsa.key.sign(b"something else", ec.ECDSA(hashes.SHA256()))
    asn1_cert = asn1_x509.Certificate.load(_der(named))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    certificates = [asn1_cert] if include_certificates else []
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": content_type,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": certificates,
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def response(token: bytes | None, *, status: str = "granted") -> bytes:
    """A DER TimeStampResp with ``status`` around ``token`` (asn1crypto's TimeStampResp
    cannot leave the token out, so the outer SEQUENCE is put together here)."""
    body = tsp.PKIStatusInfo({"status": status}).dump() + (token or b"")
    return bytes(core.Sequence.load(b"\x30" + _length(len(body)) + body).dump())


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets
