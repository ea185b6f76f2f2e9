"""In-toto attestations made in tests: statements, DSSE envelopes signed with test keys, and
cosign's legacy ``.att`` manifest (one envelope per layer) written into a registry's storage.

The ``.att`` layout is cosign's: an OCI manifest tagged ``sha256-<hex>.att`` whose layers have
the media type ``application/vnd.dsse.envelope.v1+json``, the envelope JSON as blob, an empty
``dev.cosignproject.cosign/signature`` annotation and the ``predicateType`` annotation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from kenner.attest.dsse import ENVELOPE_MEDIA_TYPE, INTOTO_PAYLOAD_TYPE, pae
from kenner.oci.manifest import OCI_MANIFEST, digest_of
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
