"""Certificates kenner makes itself: a throw-away self-signed serving certificate, and the
parts its webhook certificates (``kenner.webhook_certs``) share with it; and the CA profile
that every chain kenner verifies (Fulcio, TSA, Notation) shares."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from cryptography.x509.verification import Criticality, ExtensionPolicy, Policy


def alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """Subject alternative names for ``hosts``: an IP address entry where one parses, else DNS."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA's key usage (``cert_sign``: certificates and CRLs, RFC 5280 4.2.1.3) or a leaf's
    (digital signatures only)."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def self_signed_certificate(hosts: list[str], days: int = 30) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 serving certificate for ``hosts`` (DNS names or IPs).

    Returns ``(certificate_pem, private_key_pem)``. Meant for ``make run`` and tests: a
    cluster needs a certificate its webhook configuration trusts.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def ca_policy(purpose: ObjectIdentifier, purpose_name: str) -> ExtensionPolicy:
    """The Web PKI CA profile for chains of ``purpose`` leaves: as Go's crypto/x509 (which
    cosign and notation-go use) does, a CA whose extended key usage is restricted must allow
    ``purpose`` (or any usage) to issue them. ``purpose_name`` names it in the error."""
    allowed = (purpose, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)

    def check(_policy: Policy, ca: x509.Certificate, usage: x509.ExtendedKeyUsage | None) -> None:
        if usage is not None and not any(oid in usage for oid in allowed):
            name = ca.subject.rfc4514_string()
            raise ValueError(f"the CA {name!r} may not issue {purpose_name} certificates")

    return ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, check
    )
