"""Legacy ``.att`` layers checked against trust roots: keys, the Rekor log, keyless.

Everything is made here: signing keys, a Rekor log key and its bundles, a Fulcio-like CA.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kenner.attest.dsse import parse_envelope
from kenner.attest.verify import (
    AttestationLayer,
    attestation_layers,
    check_entry_body,
    verify_attestation,
)
from kenner.certs import key_usage
from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import ISSUER_V1, IdentityPolicy
from kenner.cosign.keys import load_public_key
from kenner.cosign.signature import KeylessRoot, KeyRoot, Sigstore
from kenner.oci.manifest import ImageManifest, digest_of, parse_manifest
from tests.support.attestations import (
    attestation_manifest,
    dsse_entry,
    envelope,
    intoto_entry,
    rekor_bundle,
    statement,
)
from tests.support.cosign_signing import new_key, public_pem

DIGEST = digest_of(b"the image")
LOGGED = datetime(2026, 12, 1, 12, tzinfo=UTC)
REKOR = new_key()
SIGSTORE = Sigstore(load_public_key(public_pem(REKOR)))


def _signed(key: Any) -> tuple[bytes, bytes, bytes]:
    """An envelope signed by ``key``, its payload and its signature bytes."""
    payload = statement(DIGEST, {"builder": "ci"})
    blob = envelope(payload, key)
    return blob, payload, parse_envelope(blob).signatures[0]


def _layer(blob: bytes, **annotations: str | None) -> AttestationLayer:
    return AttestationLayer(digest_of(blob), len(blob), **annotations)


def test_att_manifest_layers_are_the_envelope_layers() -> None:
    blobs = [envelope(statement(DIGEST, {}), new_key()) for _ in range(2)]
    manifest = parse_manifest(attestation_manifest(blobs))
    assert isinstance(manifest, ImageManifest)
    assert [layer.envelope_digest for layer in attestation_layers(manifest)] == [
        digest_of(blob) for blob in blobs
    ]


def test_a_key_root_without_the_log() -> None:
    key = new_key()
    blob, _, _ = _signed(key)
    root = KeyRoot("ci", load_public_key(public_pem(key)))
    found = verify_attestation(_layer(blob), blob, root, Sigstore(), require_tlog=False)
    assert found.names(DIGEST)
    stranger = KeyRoot("other", load_public_key(public_pem(new_key())))
    with pytest.raises(Rejected) as info:
        verify_attestation(_layer(blob), blob, stranger, Sigstore(), require_tlog=False)
    assert str(info.value) == "bad_signature: the envelope does not verify with the key"


@pytest.mark.parametrize("entry", [intoto_entry, dsse_entry])
def test_a_key_root_with_the_log(entry: Any) -> None:
    key = new_key()
    blob, payload, signature = _signed(key)
    root = KeyRoot("ci", load_public_key(public_pem(key)))
    bundle = rekor_bundle(
        REKOR, entry(payload, signature, public_pem(key).encode()), int(LOGGED.timestamp())
    )
    found = verify_attestation(_layer(blob, bundle=bundle), blob, root, SIGSTORE, require_tlog=True)
    assert found.predicate_type == "https://slsa.dev/provenance/v1"
    with pytest.raises(Rejected) as info:
        verify_attestation(_layer(blob), blob, root, SIGSTORE, require_tlog=True)
    assert info.value.failure == Failure.NO_TLOG_ENTRY


def test_log_entries_about_something_else_are_refused() -> None:
    key, other = new_key(), new_key()
    blob, payload, signature = _signed(key)
    pem = public_pem(key).encode()
    root = KeyRoot("ci", load_public_key(public_pem(key)))
    cases = {
        "another payload": intoto_entry(payload + b" ", signature, pem),
        "another signature": intoto_entry(
            payload, signature[:-1] + bytes([signature[-1] ^ 1]), pem
        ),
        "another signer": intoto_entry(payload, signature, public_pem(other).encode()),
        "another kind": {"kind": "hashedrekord", "spec": {}},
    }
    for what, body in cases.items():
        bundle = rekor_bundle(REKOR, body, int(LOGGED.timestamp()))
        with pytest.raises(Rejected) as info:
            verify_attestation(_layer(blob, bundle=bundle), blob, root, SIGSTORE, require_tlog=True)
        assert info.value.failure == Failure.BAD_TLOG_ENTRY, what
    # A bundle signed by another log.
    foreign = rekor_bundle(new_key(), intoto_entry(payload, signature, pem), 1)
    with pytest.raises(Rejected, match="logged by"):
        verify_attestation(_layer(blob, bundle=foreign), blob, root, SIGSTORE, require_tlog=True)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"kind": "intoto"},
        {"kind": "intoto", "spec": {"content": []}},
        {"kind": "dsse", "spec": {"signatures": "x", "payloadHash": {}}},
        {"kind": "intoto", "spec": {"content": {"envelope": {"signatures": [1, {"sig": 5}]}}}},
    ],
)
def test_malformed_entry_bodies_are_refused(body: Any) -> None:
    with pytest.raises(Rejected) as info:
        check_entry_body(body, b"x", b"sig", b"der")
    assert info.value.failure == Failure.BAD_TLOG_ENTRY


def test_malformed_envelopes_and_payloads_are_refused() -> None:
    key = new_key()
    root = KeyRoot("ci", load_public_key(public_pem(key)))
    with pytest.raises(Rejected) as info:
        verify_attestation(_layer(b"{}"), b"{}", root, Sigstore(), require_tlog=False)
    assert info.value.failure == Failure.MALFORMED
    not_a_statement = envelope(b'{"hello": "world"}', key)
    with pytest.raises(Rejected) as info:
        verify_attestation(
            _layer(not_a_statement), not_a_statement, root, Sigstore(), require_tlog=False
        )
    assert info.value.failure == Failure.WRONG_TYPE


# --- keyless: a Fulcio-like CA made here ----------------------------------------------------


@attrs.frozen
class _Fulcio:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _fulcio() -> _Fulcio:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test fulcio")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(LOGGED - timedelta(days=365))
        .not_valid_after(LOGGED + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _Fulcio(key, certificate)


def _leaf(ca: _Fulcio, key: ec.EllipticCurvePrivateKey, email: str) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(LOGGED - timedelta(minutes=5))
        .not_valid_after(LOGGED + timedelta(minutes=5))
        .add_extension(key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(ISSUER_V1, b"https://issuer.example"), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )


def _keyless_case(logged: datetime = LOGGED) -> tuple[AttestationLayer, bytes, Sigstore]:
    ca = _fulcio()
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(ca, key, "dev@example.test")
    blob, payload, signature = _signed(key)
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
    bundle = rekor_bundle(
        REKOR, intoto_entry(payload, signature, leaf_pem), int(logged.timestamp())
    )
    layer = _layer(blob, certificate=leaf_pem.decode(), bundle=bundle)
    return layer, blob, Sigstore(SIGSTORE.rekor_key, (ca.certificate,))


def test_keyless_at_the_log_time_with_the_identity() -> None:
    layer, blob, sigstore = _keyless_case()
    root = KeylessRoot(
        "dev", IdentityPolicy(issuer="https://issuer.example", subject="dev@example.test")
    )
    assert verify_attestation(layer, blob, root, sigstore, require_tlog=False).names(DIGEST)
    other = KeylessRoot(
        "ops", IdentityPolicy(issuer="https://issuer.example", subject="ops@example.test")
    )
    with pytest.raises(Rejected) as info:
        verify_attestation(layer, blob, other, sigstore, require_tlog=False)
    assert info.value.failure == Failure.IDENTITY_MISMATCH


def test_keyless_outside_the_certificate_validity_or_without_certificate() -> None:
    root = KeylessRoot(
        "dev", IdentityPolicy(issuer="https://issuer.example", subject="dev@example.test")
    )
    layer, blob, sigstore = _keyless_case(LOGGED + timedelta(hours=1))
    with pytest.raises(Rejected) as info:
        verify_attestation(layer, blob, root, sigstore, require_tlog=False)
    assert info.value.failure == Failure.BAD_CERTIFICATE
    with pytest.raises(Rejected) as info:
        verify_attestation(
            attrs.evolve(layer, certificate=None), blob, root, sigstore, require_tlog=False
        )
    assert info.value.failure == Failure.NO_CERTIFICATE
    with pytest.raises(Rejected) as info:
        verify_attestation(
            attrs.evolve(layer, bundle=None), blob, root, sigstore, require_tlog=False
        )
    assert info.value.failure == Failure.NO_TLOG_ENTRY


def test_the_statement_json_is_kept_for_the_policy() -> None:
    key = new_key()
    blob, _, _ = _signed(key)
    root = KeyRoot("ci", load_public_key(public_pem(key)))
    found = verify_attestation(_layer(blob), blob, root, Sigstore(), require_tlog=False)
    assert (
        found.document["predicate"] == json.loads(statement(DIGEST, {"builder": "ci"}))["predicate"]
    )
