"""The real Cosign signatures of Connaisseur's test data, verified by the pure verifier."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
import yaml

from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.fulcio import IdentityPolicy, identity_of, load_certificates, verify_chain
from kenner.cosign.keys import load_public_key
from kenner.cosign.payload import parse_payload, render_payload
from kenner.cosign.signature import (
    Expectation,
    KeylessRoot,
    KeyRoot,
    SignatureLayer,
    Sigstore,
    signature_layers,
    verify_layer,
)
from kenner.oci.manifest import ImageManifest, digest_of, parse_manifest
from tests.shared import connaisseur_fixtures

ALICE_DIGEST = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
KEYLESS_DIGEST = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"
REPOSITORY = "securesystemsengineering/testimage"


def _cosign() -> Path:
    return connaisseur_fixtures() / "cosign"


def _registry() -> Path:
    return _cosign() / "registry" / REPOSITORY


def _layer(digest: str) -> tuple[SignatureLayer, bytes]:
    name = f"sha256-{digest.split(':')[1]}.sig.json"
    manifest = parse_manifest((_registry() / "manifests" / name).read_bytes())
    assert isinstance(manifest, ImageManifest)
    [layer] = signature_layers(manifest)
    return layer, (_registry() / "blobs" / f"{layer.payload_digest}.json").read_bytes()


def _sigstore() -> Sigstore:
    host = yaml.safe_load((_cosign() / "validator_configs/11_keyless.yaml").read_text())["host"]
    return Sigstore(
        load_public_key(host["rekorPubkey"]), load_certificates(host["fulcioCert"], "fulcio")
    )


def _key(name: str) -> KeyRoot:
    return KeyRoot(name, load_public_key((_cosign() / "keys" / f"{name}.key").read_text()))


def test_manifests_and_payloads_hash_to_their_digests() -> None:
    for path in (_registry() / "manifests").iterdir():
        if path.name.endswith(".sig.json"):
            digest = "sha256:" + path.name.removeprefix("sha256-").removesuffix(".sig.json")
            signed = (_registry() / "manifests").glob("*.json")
            assert any(digest_of(p.read_bytes()) == digest for p in signed)
    for path in (_registry() / "blobs").iterdir():
        assert digest_of(path.read_bytes()) == path.name.removesuffix(".json")


def test_rendered_payloads_equal_cosign_output_byte_for_byte() -> None:
    _, payload = _layer(ALICE_DIGEST)
    assert render_payload(f"index.docker.io/{REPOSITORY}", ALICE_DIGEST) == payload
    signed = parse_payload(payload)
    assert (signed.docker_reference, signed.manifest_digest) == (
        f"index.docker.io/{REPOSITORY}",
        ALICE_DIGEST,
    )


def test_alice_signed_the_image_and_no_one_else() -> None:
    layer, payload = _layer(ALICE_DIGEST)
    expectation = Expectation(ALICE_DIGEST, "docker.io", REPOSITORY, require_tlog=False)
    assert verify_layer(layer, payload, _key("alice"), expectation, Sigstore()) is None
    for other in ("bob", "charlie", "default"):
        with pytest.raises(Rejected) as info:
            verify_layer(layer, payload, _key(other), expectation, Sigstore())
        assert info.value.failure == Failure.BAD_SIGNATURE


def test_a_payload_for_another_digest_or_repository_is_refused() -> None:
    layer, payload = _layer(ALICE_DIGEST)
    other = Expectation(KEYLESS_DIGEST, "docker.io", REPOSITORY, require_tlog=False)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, _key("alice"), other, Sigstore())
    assert info.value.failure == Failure.DIGEST_MISMATCH
    moved = Expectation(ALICE_DIGEST, "127.0.0.1:5000", REPOSITORY, require_tlog=False)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, _key("alice"), moved, Sigstore())
    assert info.value.failure == Failure.REFERENCE_MISMATCH
    copied = attrs.evolve(moved, reference_check="path")
    assert verify_layer(layer, payload, _key("alice"), copied, Sigstore()) is None


def test_a_tampered_payload_fails_the_signature() -> None:
    layer, payload = _layer(ALICE_DIGEST)
    tampered = payload.replace(b"testimage", b"testimagf")
    expectation = Expectation(ALICE_DIGEST, "docker.io", REPOSITORY, "any", require_tlog=False)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, tampered, _key("alice"), expectation, Sigstore())
    assert info.value.failure == Failure.BAD_SIGNATURE


def test_key_signature_without_bundle_fails_when_the_log_is_required() -> None:
    layer, payload = _layer(ALICE_DIGEST)
    expectation = Expectation(ALICE_DIGEST, "docker.io", REPOSITORY)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, _key("alice"), expectation, _sigstore())
    assert info.value.failure == Failure.NO_TLOG_ENTRY


def _keyless_expectation() -> Expectation:
    # The payload names index.docker.io/phbelitz/rekor-test (see the MANIFEST's caveat).
    return Expectation(KEYLESS_DIGEST, "docker.io", REPOSITORY, "any")


def test_keyless_signature_verifies_offline_at_the_rekor_time() -> None:
    layer, payload = _layer(KEYLESS_DIGEST)
    root = KeylessRoot("philipp", IdentityPolicy(issuer_regex="github", subject_regex="philipp"))
    entry = verify_layer(layer, payload, root, _keyless_expectation(), _sigstore())
    assert entry is not None
    assert (entry.integrated_time, entry.log_index) == (1717082297, 98235800)


def test_keyless_identity_must_match() -> None:
    layer, payload = _layer(KEYLESS_DIGEST)
    bob = KeylessRoot("bob", IdentityPolicy(issuer_regex="google", subject="bob@gmail.com"))
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, bob, _keyless_expectation(), _sigstore())
    assert info.value.failure == Failure.IDENTITY_MISMATCH
    assert "philipp.belitz@securesystems.de" in info.value.message
    exact = IdentityPolicy(
        issuer="https://github.com/login/oauth", subject="philipp.belitz@securesystems.de"
    )
    assert verify_layer(
        layer, payload, KeylessRoot("p", exact), _keyless_expectation(), _sigstore()
    )


def test_keyless_needs_the_configured_rekor_key_and_fulcio_root() -> None:
    layer, payload = _layer(KEYLESS_DIGEST)
    root = KeylessRoot("p", IdentityPolicy(issuer_regex="github", subject_regex="philipp"))
    real = _sigstore()
    other_log = Sigstore(_key("alice").key, real.fulcio_certificates)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, root, _keyless_expectation(), other_log)
    assert info.value.failure == Failure.BAD_TLOG_ENTRY
    no_fulcio = Sigstore(real.rekor_key, ())
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, root, _keyless_expectation(), no_fulcio)
    assert info.value.failure == Failure.BAD_CERTIFICATE


def test_a_tampered_bundle_is_refused() -> None:
    layer, payload = _layer(KEYLESS_DIGEST)
    root = KeylessRoot("p", IdentityPolicy(issuer_regex="github", subject_regex="philipp"))
    assert layer.bundle is not None
    bundle = json.loads(layer.bundle)
    bundle["Payload"]["integratedTime"] += 1
    tampered = attrs.evolve(layer, bundle=json.dumps(bundle))
    with pytest.raises(Rejected) as info:
        verify_layer(tampered, payload, root, _keyless_expectation(), _sigstore())
    assert "signed entry timestamp" in info.value.message


def test_the_fulcio_leaf_is_valid_only_around_the_integration_time() -> None:
    layer, _ = _layer(KEYLESS_DIGEST)
    assert layer.certificate is not None
    assert layer.chain is not None
    [leaf] = load_certificates(layer.certificate, "leaf")
    chain = load_certificates(layer.chain, "chain")
    anchors = _sigstore().fulcio_certificates
    verify_chain(leaf, chain, anchors, datetime.fromtimestamp(1717082297, UTC))
    with pytest.raises(Rejected) as info:
        verify_chain(leaf, chain, anchors, datetime(2025, 1, 1, tzinfo=UTC))
    assert "not at 2025-01-01" in info.value.message
    identity = identity_of(leaf)
    assert identity.issuer == "https://github.com/login/oauth"
    assert identity.subjects == ("philipp.belitz@securesystems.de",)
