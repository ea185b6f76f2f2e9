"""Signature checks with the keys a bundle meets: signers', logs' and TSAs'.

ECDSA signatures are ASN.1 DER over the hash that fits the curve (P-256: SHA-256, P-384:
SHA-384, P-521: SHA-512), as Sigstore's key details pair them; RSA is PKCS#1 v1.5 or PSS
with SHA-256 (the key does not say which, so both are tried); Ed25519 signs the message
itself. ``verify_prehashed`` checks a signature over a message known only by its SHA-256
digest (a container image, a large artifact); Ed25519 cannot do that.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def verify(key: PublicKeyTypes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``data``."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = _CURVE_HASHES.get(key.curve.name)
            if algorithm is None:
                return False
            key.verify(signature, data, ec.ECDSA(algorithm()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, rsa.RSAPublicKey):
            return _rsa(key, signature, data, hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_prehashed(key: PublicKeyTypes, signature: bytes, sha256_digest: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over the message whose SHA-256 is ``sha256_digest``."""
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, sha256_digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            return _rsa(key, signature, sha256_digest, prehashed)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _rsa(
    key: rsa.RSAPublicKey,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | utils.Prehashed,
) -> bool:
    schemes: tuple[padding.AsymmetricPadding, ...] = (
        padding.PKCS1v15(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
    )
    for scheme in schemes:
        try:
            key.verify(signature, data, scheme, algorithm)
        except InvalidSignature:
            continue
        return True
    return False
