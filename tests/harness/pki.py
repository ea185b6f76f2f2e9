"""TLS PKI and signing keys for the test bed, made with ``cryptography``.

One ECDSA P-256 CA signs a leaf per service. Leaves carry SAN IP:127.0.0.1 + DNS:localhost,
serverAuth + clientAuth (notary-server presents its leaf as client certificate to
notary-signer) and SKI/AKI, which Python 3.13's ``VERIFY_X509_STRICT`` default requires.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.certs import key_usage

_TLS_VALIDITY = datetime.timedelta(days=30)
_DELEGATION_CERT_VALIDITY = datetime.timedelta(days=3650)


@attrs.frozen
class TlsFiles:
    """PEM files of one service's certificate and key."""

    cert: Path
    key: Path


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key (the curve notary uses everywhere)."""
    return ec.generate_private_key(ec.SECP256R1())


def private_pkcs8_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: what ``notary key import`` / ``--rootkey`` accept."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """SubjectPublicKeyInfo PEM of the key's public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def write_private(path: Path, pem: bytes) -> Path:
    """Write a private key readable by the owner only."""
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    # Backdated a little so a slightly skewed clock in a service does not reject fresh certs.
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


def write_ca(directory: Path, common_name: str) -> tuple[TlsFiles, ec.EllipticCurvePrivateKey]:
    """Create ``ca.crt``/``ca.key`` in ``directory``; return the files and the signing key."""
    key = new_ec_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + _TLS_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(cert_sign=True),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / "ca.crt", key=directory / "ca.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(files.key, private_pkcs8_pem(key))
    return files, key


def write_leaf(
    directory: Path, name: str, ca: TlsFiles, ca_key: ec.EllipticCurvePrivateKey
) -> TlsFiles:
    """Create ``NAME.crt``/``NAME.key`` for a loopback service, signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    key = new_ec_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + _TLS_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(cert_sign=False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / f"{name}.crt", key=directory / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(files.key, private_pkcs8_pem(key))
    return files


def self_signed_cert_pem(key: ec.EllipticCurvePrivateKey, common_name: str) -> bytes:
    """A self-signed certificate for a delegation key (keytype ``ecdsa-x509`` in targets.json)."""
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + _DELEGATION_CERT_VALIDITY)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
