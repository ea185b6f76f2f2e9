"""In-toto attestations made in tests: statements, DSSE envelopes signed with test keys, and
cosign's legacy ``.att`` manifest (one envelope per layer) written into a registry's storage.

The ``.att`` layout is cosign's: an OCI manifest tagged ``sha256-<hex>.att`` whose layers have
the media type ``application/vnd.dsse.envelope.v1+json``, the envelope JSON as blob, an empty
``dev.cosignproject.cosign/signature`` annotation and the ``predicateType`` annotation.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization

from kenner.attest.dsse import ENVELOPE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE
from kenner.oci.manifest import OCI_MANIFEST, digest_of
from kenner.sigstore.dsse import pae
from tests.support.cosign_signing import EMPTY_CONFIG, PrivateKey, sign
from tests.support.registry_storage import RegistryStorage

SLSA_V1 = "https://slsa.dev/provenance/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"


def statement(
    digest: str,
    predicate: Mapping[str, Any],
    predicate_type: str = SLSA_V1,
    statement_type: str = STATEMENT_V1,
) -> bytes:
    algorithm, _, value = digest.partition(":")
    document = {
        "_type": statement_type,
        "subject": [{"name": "image", "digest": {algorithm: value}}],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }
    return json.dumps(document).encode()


def envelope(
    payload: bytes, *signers: PrivateKey, payload_type: str = INTOTO_PAYLOAD_TYPE
) -> bytes:
    signatures = [
        {"keyid": "", "sig": base64.b64encode(sign(key, pae(payload_type, payload))).decode()}
        for key in signers
    ]
    document = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": signatures,
    }
    return json.dumps(document).encode()


def attestation_manifest(envelopes: Sequence[bytes], predicate_type: str = SLSA_V1) -> bytes:
    layers = [
        {
            "mediaType": ENVELOPE_MEDIA_TYPE,
            "size": len(item),
            "digest": digest_of(item),
            "annotations": {
                "dev.cosignproject.cosign/signature": "",
                "predicateType": predicate_type,
            },
        }
        for item in envelopes
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(EMPTY_CONFIG),
            "digest": digest_of(EMPTY_CONFIG),
        },
        "layers": layers,
    }
    return json.dumps(manifest, indent=2).encode()


def store_attestations(
    storage: RegistryStorage, repository: str, digest: str, envelopes: Sequence[bytes]
) -> None:
    """Store ``sha256-<hex>.att`` for the image ``digest`` holding ``envelopes``."""
    storage.put_blob(repository, EMPTY_CONFIG)
    for item in envelopes:
        storage.put_blob(repository, item)
    tag = digest.replace(":", "-") + ".att"
    storage.put_manifest(repository, attestation_manifest(envelopes), tag)


def rekor_bundle(
    rekor: PrivateKey, body: Mapping[str, Any], integrated_time: int, log_index: int = 7
) -> str:
    """The ``dev.sigstore.cosign/bundle`` annotation of a Rekor entry ``body`` that the log
    key ``rekor`` accepted at ``integrated_time``."""
    der = rekor.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    entry = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "integratedTime": integrated_time,
        "logIndex": log_index,
        "logID": hashlib.sha256(der).hexdigest(),
    }
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    timestamp = base64.b64encode(sign(rekor, canonical)).decode()
    return json.dumps({"SignedEntryTimestamp": timestamp, "Payload": entry})


def intoto_entry(payload: bytes, signature: bytes, signer_pem: bytes) -> dict[str, Any]:
    """A Rekor ``intoto`` 0.0.2 entry body as the log stores it (signature encoded twice)."""
    payload_hash = {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}
    twice = base64.b64encode(base64.b64encode(signature)).decode()
    return {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": INTOTO_PAYLOAD_TYPE,
                    "signatures": [
                        {"sig": twice, "publicKey": base64.b64encode(signer_pem).decode()}
                    ],
                },
                "payloadHash": payload_hash,
            }
        },
    }


def dsse_entry(payload: bytes, signature: bytes, signer_pem: bytes) -> dict[str, Any]:
    """A Rekor ``dsse`` 0.0.1 entry body."""
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [
                {
                    "signature": base64.b64encode(signature).decode(),
                    "verifier": base64.b64encode(signer_pem).decode(),
                }
            ],
        },
    }
