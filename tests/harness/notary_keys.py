"""Private keys in the one encrypted form the notary 0.7 client accepts for root keys.

``notary init --rootkey`` and ``notary key rotate GUN root -k`` take only *encrypted* PKCS#8
keys, and notary decrypts PBES2 with PBKDF2 using its default PRF (HMAC-SHA1) and AES-256-CBC.
``cryptography``'s encrypted PKCS#8 uses HMAC-SHA256 as PRF, which notary silently derives a
wrong key for ("password invalid"). So the few DER bytes of that envelope are written here,
letting the harness create every root key itself and know its public key by construction.
"""

from __future__ import annotations

import base64
import hashlib
import os
import textwrap

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

_OID_PBES2 = bytes.fromhex("06092a864886f70d01050d")  # 1.2.840.113549.1.5.13
_OID_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")  # 1.2.840.113549.1.5.12
_OID_AES256_CBC = bytes.fromhex("060960864801650304012a")  # 2.16.840.1.101.3.4.1.42
_PBKDF2_ITERATIONS = 10_000


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(encoded)]) + encoded
    return bytes([tag]) + length + content


def _sequence(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _octets(content: bytes) -> bytes:
    return _der(0x04, content)


def _integer(value: int) -> bytes:
    # Positive DER integers carry a leading zero byte when the top bit would be set.
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def encrypted_pkcs8_pem(key: ec.EllipticCurvePrivateKey, passphrase: str) -> bytes:
    """``key`` as PEM ``ENCRYPTED PRIVATE KEY`` (PBES2, PBKDF2-HMAC-SHA1, AES-256-CBC)."""
    plain = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    salt, iv = os.urandom(16), os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha1", passphrase.encode(), salt, _PBKDF2_ITERATIONS, 32)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    algorithm = _sequence(
        _OID_PBES2,
        _sequence(
            _sequence(_OID_PBKDF2, _sequence(_octets(salt), _integer(_PBKDF2_ITERATIONS))),
            _sequence(_OID_AES256_CBC, _octets(iv)),
        ),
    )
    der = _sequence(algorithm, _octets(ciphertext))
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    label = "ENCRYPTED PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()
