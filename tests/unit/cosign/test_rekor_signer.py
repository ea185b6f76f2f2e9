"""The signer a Rekor entry records: anything but a readable key or certificate is None."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.cosign.rekor import recorded_signer_der

# SubjectPublicKeyInfo { algorithm 1.2.3.4.5.6, key BIT STRING 00 }: well-formed DER whose
# algorithm cryptography does not know (it raises UnsupportedAlgorithm, not ValueError).
UNKNOWN_ALGORITHM = b"MA0wBwYFKgMEBQYDAgAA"


def _pem(der_b64: bytes) -> bytes:
    return b"-----BEGIN PUBLIC KEY-----\n" + der_b64 + b"\n-----END PUBLIC KEY-----\n"


@pytest.mark.parametrize(
    "pem", [_pem(UNKNOWN_ALGORITHM), _pem(b"AAAA"), b"not pem", b"-----BEGIN CERTIFICATE-----"]
)
def test_an_unreadable_signer_is_none(pem: bytes) -> None:
    assert recorded_signer_der(pem) is None


def test_a_public_key_gives_its_der() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert recorded_signer_der(pem) == der
