"""Real Sigstore DSSE attestations, repackaged as cosign's legacy ``.att`` layers.

A conformance bundle's envelope, leaf certificate and Rekor v1 entry (its canonicalized body,
integration time, log index and SET) are exactly what cosign puts into an ``.att`` layer and
its ``dev.sigstore.cosign/certificate`` and ``bundle`` annotations; the Rekor key and Fulcio
certificates come from the case's trusted root. So the legacy path is checked against real
``dsse`` 0.0.1 and ``intoto`` 0.0.2 entries, with the outcome upstream asserts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kenner.attest.verify import AttestationLayer, verify_attestation
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import IdentityPolicy
from kenner.cosign.keys import load_public_key
from kenner.cosign.signature import KeylessRoot, Sigstore
from kenner.oci.manifest import digest_of
from tests.shared import fixtures_root

BEACON = KeylessRoot(
    "beacon",
    IdentityPolicy(
        issuer="https://token.actions.githubusercontent.com",
        subject="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
        ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
    ),
)


def _folder() -> Path:
    folder = fixtures_root() / "sigstore"
    if not (folder / "MANIFEST.md").is_file():
        pytest.skip(f"Sigstore fixtures not found at {folder}: set KENNER_FIXTURES")
    return folder


def _case(name: str) -> tuple[AttestationLayer, bytes, Sigstore, str]:
    """The ``.att`` layer, its blob, the trust material and the artifact digest of a case."""
    folder = _folder() / "conformance" / name
    bundle: dict[str, Any] = json.loads((folder / "bundle.sigstore.json").read_bytes())
    own_root = folder / "trusted_root.json"
    root_path = own_root if own_root.is_file() else _folder() / "trusted-roots/production.json"
    trusted: dict[str, Any] = json.loads(root_path.read_bytes())
    [entry] = bundle["verificationMaterial"]["tlogEntries"]
    log_id = base64.b64decode(entry["logId"]["keyId"]).hex()
    annotation = {
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logIndex": int(entry["logIndex"]),
            "logID": log_id,
        },
    }
    [rekor] = [
        log["publicKey"]["rawBytes"]
        for log in trusted["tlogs"]
        if base64.b64decode(log["logId"]["keyId"]).hex() == log_id
    ]
    rekor_pem = serialization.load_der_public_key(base64.b64decode(rekor)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fulcio = tuple(
        x509.load_der_x509_certificate(base64.b64decode(cert["rawBytes"]))
        for authority in trusted["certificateAuthorities"]
        for cert in authority["certChain"]["certificates"]
    )
    material = bundle["verificationMaterial"]
    certificate = material.get("certificate") or material["x509CertificateChain"]["certificates"][0]
    leaf = x509.load_der_x509_certificate(base64.b64decode(certificate["rawBytes"]))
    blob = json.dumps(bundle["dsseEnvelope"]).encode()
    layer = AttestationLayer(
        digest_of(blob),
        len(blob),
        certificate=leaf.public_bytes(serialization.Encoding.PEM).decode(),
        bundle=json.dumps(annotation),
    )
    artifact = folder / "artifact" if (folder / "artifact").is_file() else folder.parent / "a.txt"
    digest = "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()
    return layer, blob, Sigstore(load_public_key(rekor_pem), fulcio), digest


def test_happy_path_dsse_entry_verifies_keyless_at_the_log_time() -> None:
    layer, blob, sigstore, digest = _case("happy-path-intoto-in-dsse-v3")
    found = verify_attestation(layer, blob, BEACON, sigstore, require_tlog=True)
    assert found.predicate_type == "https://slsa.dev/provenance/v1"
    assert found.names(digest)


@pytest.mark.parametrize(
    ("case", "failure"),
    [
        ("dsse-invalid-sig_fail", Failure.BAD_SIGNATURE),
        ("dsse-mismatch-sig_fail", Failure.BAD_TLOG_ENTRY),  # logged another signature
        # The intoto 0.0.2 entry (signature encoded twice) verifies; the time does not.
        ("intoto-expired-certificate_fail", Failure.BAD_CERTIFICATE),
        ("intoto-log-entry-mismatch_fail", Failure.BAD_TLOG_ENTRY),
    ],
)
def test_failing_cases_fail_for_their_reason(case: str, failure: Failure) -> None:
    layer, blob, sigstore, _ = _case(case)
    with pytest.raises(Rejected) as info:
        verify_attestation(layer, blob, BEACON, sigstore, require_tlog=True)
    assert info.value.failure == failure


def test_another_identity_is_refused() -> None:
    layer, blob, sigstore, _ = _case("happy-path-intoto-in-dsse-v3")
    other = KeylessRoot(
        "other", IdentityPolicy(issuer_regex="^https://accounts.google.com$", subject_regex=".*")
    )
    with pytest.raises(Rejected) as info:
        verify_attestation(layer, blob, other, sigstore, require_tlog=True)
    assert info.value.failure == Failure.IDENTITY_MISMATCH
