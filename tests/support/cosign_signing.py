"""Cosign signatures made in tests, in Cosign's exact format (checked against real ones).

A signed image is a ``.sig`` OCI manifest whose layers are simple-signing payloads
(``application/vnd.dev.cosign.simplesigning.v1+json``) annotated with the base64 signature
``dev.cosignproject.cosign/signature``, tagged ``sha256-<hex>.sig`` next to the image.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import attrs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from kenner.cosign.payload import SIMPLE_SIGNING_MEDIA_TYPE, render_payload
from kenner.oci.manifest import OCI_MANIFEST, digest_of

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
EMPTY_CONFIG = b"{}"


def new_key(kind: str = "ecdsa") -> PrivateKey:
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind in ("rsa-pkcs1", "rsa-pss"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: PrivateKey, data: bytes, rsa_padding: str = "pkcs1") -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        scheme: padding.AsymmetricPadding = padding.PKCS1v15()
        if rsa_padding == "pss":
            scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return key.sign(data, scheme, hashes.SHA256())
    return key.sign(data)


@attrs.frozen
class SignedLayer:
    payload: bytes
    signature_b64: str
    extra_annotations: tuple[tuple[str, str], ...] = ()


def signed_layer(key: PrivateKey, reference: str, digest: str, **kwargs: str) -> SignedLayer:
    payload = render_payload(reference, digest)
    return SignedLayer(payload, base64.b64encode(sign(key, payload, **kwargs)).decode())


def signature_manifest(layers: Sequence[SignedLayer]) -> bytes:
    """The ``.sig`` manifest (its config is the empty JSON object, as stored by tests)."""
    descriptors = []
    for layer in layers:
        annotations = {"dev.cosignproject.cosign/signature": layer.signature_b64}
        annotations.update(dict(layer.extra_annotations))
        descriptors.append(
            {
                "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
                "size": len(layer.payload),
                "digest": digest_of(layer.payload),
                "annotations": annotations,
            }
        )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(EMPTY_CONFIG),
            "digest": digest_of(EMPTY_CONFIG),
        },
        "layers": descriptors,
    }
    return json.dumps(manifest, indent=2).encode()
