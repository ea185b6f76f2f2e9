"""The envelope's signature: the algorithm must fit the signing certificate's key, and verify.

Rules (the Notary Project's signature algorithm requirements): the key decides the algorithm,
and the envelope must name exactly that one: RSA 2048 -> PS256, RSA 3072 -> PS384,
RSA 4096 -> PS512 (RSASSA-PSS, MGF1 with the same hash, salt length = hash length), EC P-256
-> ES256, P-384 -> ES384, P-521 -> ES512 (ECDSA, the signature as raw r || s). Other keys
and sizes are refused.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kenner.notation.envelope import Envelope, fail, shown

_RSA = {2048: "PS256", 3072: "PS384", 4096: "PS512"}
_EC = {"secp256r1": ("ES256", 32), "secp384r1": ("ES384", 48), "secp521r1": ("ES512", 66)}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def algorithm_for(certificate: x509.Certificate) -> str:
    """The one envelope algorithm the certificate's key allows."""
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as error:
        fail(f"the signing certificate's key cannot be read: {shown(str(error))}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size in _RSA:
        return _RSA[key.key_size]
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC:
        return _EC[key.curve.name][0]
    return fail("the signing certificate's key is not RSA 2048/3072/4096 or EC P-256/384/521")


def verify_signature(envelope: Envelope, leaf: x509.Certificate) -> None:
    """Check that ``leaf``'s key signed ``envelope`` with the algorithm its key allows.

    Raises:
        NotationError: (``tampered_envelope``) another algorithm, or a wrong signature.
    """
    expected = algorithm_for(leaf)
    if envelope.algorithm != expected:
        fail(f"the envelope's algorithm {envelope.algorithm} does not fit the key ({expected})")
    digest = _HASHES[expected[2:]]()
    key = leaf.public_key()  # algorithm_for read it
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            key.verify(envelope.signature, envelope.signed, pss, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            size = _EC[key.curve.name][1]
            raw = envelope.signature
            if len(raw) != 2 * size:
                fail(f"the {expected} signature is not {2 * size} bytes")
            der = encode_dss_signature(
                int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
            )
            key.verify(der, envelope.signed, ec.ECDSA(digest))
    except InvalidSignature:
        fail("the envelope's signature does not verify with the signing certificate's key")
