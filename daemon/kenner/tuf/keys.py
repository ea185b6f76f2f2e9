"""Public keys and signature methods of Notary v1.

Key types in TUF metadata (``keyval.public`` is base64 of):

* ``ecdsa`` / ``rsa``: DER SubjectPublicKeyInfo;
* ``ecdsa-x509`` / ``rsa-x509``: a PEM certificate (notary issues one self-signed certificate
  per repository, so the key id differs per GUN while the public key is the same);
* ``ed25519``: the raw 32-byte key.

Signature methods (always over the canonical JSON of ``signed``):

* ``ecdsa``: raw ``r || s`` (each half as long as the curve order), over SHA-256. DER-encoded
  ECDSA signatures are not accepted: notary 0.7.0 never writes them;
* ``rsapss``: RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt; keys under 2048 bits are
  refused like notary does;
* ``eddsa``: Ed25519 over the message itself (pynacl).

Keys compare by their public key material, never by key id: :class:`PublicKey` equality is
what pins a root key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Literal

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kenner.errors import KennerError
from kenner.quoting import quote
from kenner.tuf.canonical import canonical_json

KeyAlgorithm = Literal["ecdsa", "rsa", "ed25519"]

SUPPORTED_KEY_TYPES = ("ecdsa", "ecdsa-x509", "rsa", "rsa-x509", "ed25519")
MIN_RSA_BITS = 2048
_PSS_SALT_BYTES = 32

_PEM = re.compile(
    r"-----BEGIN (?P<label>PUBLIC KEY|CERTIFICATE)-----"
    r"(?P<body>[A-Za-z0-9+/=\s]+)"
    r"-----END (?P=label)-----"
)


class KeyFormatError(KennerError, ValueError):
    """A key could not be read (names the key type and what is wrong with it)."""


@attrs.frozen
class PublicKey:
    """A verification key, compared by value.

    Attributes:
        algorithm: ``ecdsa``, ``rsa`` or ``ed25519``.
        material: DER SubjectPublicKeyInfo for ecdsa/rsa, the raw 32 bytes for ed25519.
    """

    algorithm: KeyAlgorithm
    material: bytes = attrs.field(repr=lambda material: f"<{len(material)} bytes>")


def parse_public_key_pem(pem: str) -> PublicKey:
    """Read a pinned root key: a PEM ``PUBLIC KEY`` (ECDSA, RSA, Ed25519) or ``CERTIFICATE``.

    Surrounding whitespace is fine; any other text before or after the PEM block is refused.

    Raises:
        KeyFormatError: not exactly one PEM block, or an unsupported/invalid key.
    """
    match = _PEM.fullmatch(pem.strip())
    if match is None:
        raise KeyFormatError("pinned key is not a single PEM PUBLIC KEY or CERTIFICATE block")
    try:
        der = base64.b64decode("".join(match["body"].split()), validate=True)
    except binascii.Error as exc:
        raise KeyFormatError(f"pinned key PEM body is not base64: {exc}") from exc
    if match["label"] == "CERTIFICATE":
        return _from_certificate_der(der, "pinned certificate")
    try:
        loaded = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"pinned key is not a supported public key: {exc}") from exc
    return _from_loaded(loaded, "pinned key")


def key_from_metadata(keytype: str, public_b64: str) -> PublicKey:
    """Read a key object of TUF metadata (``keytype`` and base64 ``keyval.public``).

    Raises:
        KeyFormatError: unsupported key type, or bytes that do not hold such a key.
    """
    if keytype not in SUPPORTED_KEY_TYPES:
        raise KeyFormatError(f"key type {quote(keytype)} is not supported")
    try:
        raw = base64.b64decode(public_b64, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: text that is not ASCII
        raise KeyFormatError(f"{keytype} key is not base64: {exc}") from exc
    if keytype == "ed25519":
        if len(raw) != 32:
            raise KeyFormatError(f"ed25519 key has {len(raw)} bytes, not 32")
        return PublicKey("ed25519", raw)
    if keytype.endswith("-x509"):
        try:
            certificate = x509.load_pem_x509_certificate(raw)
        except ValueError as exc:
            raise KeyFormatError(f"{keytype} key is not a PEM certificate: {exc}") from exc
        key = _from_loaded(certificate.public_key(), keytype)
    else:
        try:
            loaded = serialization.load_der_public_key(raw)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"{keytype} key is not a public key: {exc}") from exc
        key = _from_loaded(loaded, keytype)
    if key.algorithm != keytype.removesuffix("-x509"):
        raise KeyFormatError(f"{keytype} key holds an {key.algorithm} key")
    return key


def key_id(keytype: str, public_b64: str) -> str:
    """The TUF key id: SHA-256 of the canonical JSON of the key object (private part null)."""
    key_object = {"keytype": keytype, "keyval": {"private": None, "public": public_b64}}
    return hashlib.sha256(canonical_json(key_object)).hexdigest()


def verify_signature(key: PublicKey, method: str, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` by ``key`` with ``method`` is valid over ``message``.

    An unknown method, or a method that does not fit the key's algorithm, is simply invalid.
    """
    if method == "ecdsa" and key.algorithm == "ecdsa":
        return _verify_ecdsa(key.material, signature, message)
    if method == "rsapss" and key.algorithm == "rsa":
        return _verify_rsapss(key.material, signature, message)
    if method == "eddsa" and key.algorithm == "ed25519":
        # pynacl (and libsodium) are loaded by the first Ed25519 key, not by every kenner.
        import nacl.exceptions
        import nacl.signing

        try:
            nacl.signing.VerifyKey(key.material).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True
    return False


def _verify_ecdsa(material: bytes, signature: bytes, message: bytes) -> bool:
    loaded = serialization.load_der_public_key(material)
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    half = (loaded.curve.key_size + 7) // 8
    if len(signature) != 2 * half:
        return False
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    try:
        loaded.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _verify_rsapss(material: bytes, signature: bytes, message: bytes) -> bool:
    loaded = serialization.load_der_public_key(material)
    assert isinstance(loaded, rsa.RSAPublicKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PSS_SALT_BYTES)
    try:
        loaded.verify(signature, message, pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _from_certificate_der(der: bytes, what: str) -> PublicKey:
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise KeyFormatError(f"{what} is not an X.509 certificate: {exc}") from exc
    return _from_loaded(certificate.public_key(), what)


def _from_loaded(loaded: object, what: str) -> PublicKey:
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey("ed25519", raw)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        return PublicKey("ecdsa", loaded.public_bytes(*spki))
    if isinstance(loaded, rsa.RSAPublicKey):
        if loaded.key_size < MIN_RSA_BITS:
            raise KeyFormatError(f"{what} is an RSA key of {loaded.key_size} bits (< 2048)")
        return PublicKey("rsa", loaded.public_bytes(*spki))
    raise KeyFormatError(f"{what} is a {type(loaded).__name__}, not ECDSA, RSA or Ed25519")
