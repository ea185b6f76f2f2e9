"""A Notation signer of the tests' own: a CA hierarchy, JWS and COSE envelopes, RFC 3161 tokens.

``make_pki`` builds root -> intermediate -> code signing leaf (RSA 2048 or EC P-256, ...);
``sign`` makes an envelope over a target descriptor, and its knobs break one rule each. The
timestamp comes from ``tests.support.tsa``.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.certs import key_usage
from kenner.notation.payload import Target
from tests.support.tsa import Tsa, stamp

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
TARGET = Target(
    "application/vnd.oci.image.manifest.v1+json",
    "sha256:" + "ab" * 32,
    1234,
)
PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_HASH: dict[str, hashes.HashAlgorithm] = {
    "PS256": hashes.SHA256(),
    "PS384": hashes.SHA384(),
    "PS512": hashes.SHA512(),
    "ES256": hashes.SHA256(),
    "ES384": hashes.SHA384(),
    "ES512": hashes.SHA512(),
}
_COSE_ALG = {"PS256": -37, "PS384": -38, "PS512": -39, "ES256": -7, "ES384": -35, "ES512": -36}
_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
_RSA_BITS = {"PS256": 2048, "PS384": 3072, "PS512": 4096}


@attrs.frozen
class Pki:
    """A root, an intermediate and a code signing leaf with its key."""

    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: PrivateKey
    algorithm: str

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return (self.leaf, self.intermediate, self.root)


def _key(algorithm: str) -> PrivateKey:
    if algorithm.startswith("ES"):
        return ec.generate_private_key(_CURVES[algorithm])
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[algorithm])


def subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wabbit-networks.io"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(
    name: x509.Name, key: PrivateKey, issuer: x509.Name, issuer_key: PrivateKey
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 3650 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .sign(issuer_key, hashes.SHA256())
    )


def make_pki(
    algorithm: str = "ES256",
    *,
    name: str = "Leaf",
    not_before: datetime.datetime = NOW - 30 * DAY,
    not_after: datetime.datetime = NOW + 30 * DAY,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CODE_SIGNING,),
    leaf_is_ca: bool = False,
) -> Pki:
    """Root -> intermediate -> leaf; the leaf's key fits ``algorithm``."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = subject(f"{name} Root")
    root = _ca(root_name, root_key, root_name, root_key)
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle = _ca(subject(f"{name} Intermediate"), middle_key, root_name, root_key)
    leaf_key = _key(algorithm)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject(name))
        .issuer_name(middle.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(middle_key.public_key()), False
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if leaf_is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    leaf = builder.sign(middle_key, hashes.SHA256())
    return Pki(root, middle, leaf, leaf_key, algorithm)


def _sign(key: PrivateKey, algorithm: str, data: bytes) -> bytes:
    digest = _HASH[algorithm]
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return key.sign(data, pss, digest)
    size = (key.curve.key_size + 7) // 8
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def payload_for(target: Target) -> bytes:
    descriptor = {"mediaType": target.media_type, "digest": target.digest, "size": target.size}
    return json.dumps({"targetArtifact": descriptor}).encode()


def sign(
    pki: Pki,
    *,
    media_type: str = "application/jose+json",
    target: Target = TARGET,
    scheme: str = "notary.x509",
    signing_time: datetime.datetime = NOW,
    expiry: datetime.datetime | None = None,
    chain: Sequence[x509.Certificate] | None = None,
    tsa: Tsa | None = None,
    stamp_at: datetime.datetime | None = None,
    algorithm: str | None = None,
    extra_headers: Mapping[str, Any] | None = None,
    crit: Sequence[str] | None = None,
    drop_headers: Sequence[str] = (),
    content_type: str = PAYLOAD_TYPE,
    payload: bytes | None = None,
    tamper: bool = False,
) -> bytes:
    """A JWS or COSE envelope by ``pki``'s leaf over ``target`` (knobs break one rule each)."""
    algorithm = algorithm or pki.algorithm
    headers: dict[str, Any] = {"io.cncf.notary.signingScheme": scheme}
    time_name = (
        "io.cncf.notary.signingTime"
        if scheme == "notary.x509"
        else "io.cncf.notary.authenticSigningTime"
    )
    headers[time_name] = signing_time
    critical = ["io.cncf.notary.signingScheme"]
    if scheme != "notary.x509":
        critical.append(time_name)
    if expiry is not None:
        headers["io.cncf.notary.expiry"] = expiry
        critical.append("io.cncf.notary.expiry")
    headers.update(extra_headers or {})
    for name in drop_headers:
        headers.pop(name, None)
    critical = list(crit) if crit is not None else critical
    body = payload if payload is not None else payload_for(target)
    certificates = [_der(c) for c in (chain if chain is not None else pki.chain)]
    if media_type == "application/jose+json":
        protected = {"alg": algorithm, "crit": critical, "cty": content_type}
        protected.update(
            {
                k: v.isoformat() if isinstance(v, datetime.datetime) else v
                for k, v in headers.items()
            }
        )
        protected_text = _b64url(json.dumps(protected).encode())
        payload_text = _b64url(body)
        signature = _sign(pki.leaf_key, algorithm, f"{protected_text}.{payload_text}".encode())
        if tamper:
            payload_text = _b64url(payload_for(Target(target.media_type, target.digest, 1)))
        unsigned: dict[str, Any] = {
            "x5c": [base64.b64encode(c).decode() for c in certificates],
            "io.cncf.notary.signingAgent": "kenner-tests/1",
        }
        if tsa is not None:
            token = stamp(tsa, signature, at=stamp_at or signing_time)
            unsigned["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
        envelope = {
            "payload": payload_text,
            "protected": protected_text,
            "header": unsigned,
            "signature": _b64url(signature),
        }
        return json.dumps(envelope).encode()
    cose_headers: dict[Any, Any] = {1: _COSE_ALG[algorithm], 2: critical, 3: content_type}
    cose_headers.update(headers)
    protected_bytes = cbor2.dumps(cose_headers, datetime_as_timestamp=True)
    to_sign = cbor2.dumps(["Signature1", protected_bytes, b"", body])
    signature = _sign(pki.leaf_key, algorithm, to_sign)
    if tamper:
        body = payload_for(Target(target.media_type, target.digest, 1))
    cose_unsigned: dict[Any, Any] = {33: certificates, "io.cncf.notary.signingAgent": "kenner"}
    if tsa is not None:
        cose_unsigned["io.cncf.notary.timestampSignature"] = stamp(
            tsa, signature, at=stamp_at or signing_time
        )
    return cbor2.dumps(cbor2.CBORTag(18, [protected_bytes, cose_unsigned, body, signature]))
