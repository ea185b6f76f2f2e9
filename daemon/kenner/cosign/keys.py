"""Public keys that verify Cosign signatures: ECDSA P-256, RSA (PKCS#1 v1.5 or PSS), Ed25519.

Cosign signs the SHA-256 of the payload (ECDSA with ASN.1 DER signatures, RSA with SHA-256)
and Ed25519 over the payload itself. An RSA key does not say which padding its signer used, so
both are tried; PSS accepts any salt length because signers differ (digest length or maximum).
"""

from __future__ import annotations

import attrs
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from kenner.cosign.errors import UnusableKey


@attrs.frozen
class VerificationKey:
    """One public key; ``der`` (SubjectPublicKeyInfo) identifies it."""

    der: bytes
    _key: PublicKeyTypes = attrs.field(repr=False, eq=False)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``data``."""
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                return _verify_rsa(key, signature, data)
            elif isinstance(key, ed25519.Ed25519PublicKey):
                return _verify_ed25519(key, signature, data)
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def load_public_key(pem: str | bytes) -> VerificationKey:
    """A verification key from a PEM ``PUBLIC KEY``.

    Raises:
        UnusableKey: not a PEM public key, or not ECDSA P-256, RSA (>= 2048 bits) or Ed25519.
    """
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise UnusableKey(f"not a usable PEM public key ({error})") from None
    return from_public_key(key)


def from_public_key(key: PublicKeyTypes) -> VerificationKey:
    """A verification key from a loaded key (e.g. a certificate's).

    Raises:
        UnusableKey: an unsupported key type or size.
    """
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise UnusableKey(f"ECDSA curve {key.curve.name} is not supported (only P-256)")
    elif isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise UnusableKey(f"RSA keys need at least 2048 bits, this one has {key.key_size}")
    elif not isinstance(
        key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    ):
        raise UnusableKey(f"{type(key).__name__} keys are not supported")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return VerificationKey(der, key)


def _verify_rsa(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    paddings: tuple[padding.AsymmetricPadding, ...] = (
        padding.PKCS1v15(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
    )
    for scheme in paddings:
        try:
            key.verify(signature, data, scheme, hashes.SHA256())
        except InvalidSignature:
            continue
        return True
    return False


def _verify_ed25519(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    # pynacl (and libsodium) are loaded by the first Ed25519 key, not by every kenner.
    import nacl.exceptions
    import nacl.signing

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        nacl.signing.VerifyKey(raw).verify(data, signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True
