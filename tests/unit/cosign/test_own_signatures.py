"""Signatures made here with every supported key type, and threshold counting."""

from __future__ import annotations

import base64

import pytest

from kenner.cosign.errors import Failure, Rejected
from kenner.cosign.keys import load_public_key
from kenner.cosign.signature import Expectation, KeyRoot, Sigstore, verify_layer
from kenner.cosign.signature import SignatureLayer as Layer
from kenner.cosign.threshold import RequirementError, requirement, shortfall
from kenner.oci.manifest import digest_of
from tests.support.cosign_signing import new_key, public_pem, signed_layer

DIGEST = digest_of(b"an image manifest")
EXPECT = Expectation(DIGEST, "registry.example", "team/app", require_tlog=False)


def _layer(kind: str, rsa_padding: str = "pkcs1") -> tuple[KeyRoot, Layer, bytes]:
    key = new_key(kind)
    made = signed_layer(key, "registry.example/team/app", DIGEST, rsa_padding=rsa_padding)
    layer = Layer(digest_of(made.payload), len(made.payload), made.signature_b64)
    return KeyRoot(kind, load_public_key(public_pem(key))), layer, made.payload


@pytest.mark.parametrize(
    ("kind", "rsa_padding"),
    [("ecdsa", "pkcs1"), ("rsa-pkcs1", "pkcs1"), ("rsa-pss", "pss"), ("ed25519", "pkcs1")],
)
def test_every_key_type_verifies_its_own_signature_only(kind: str, rsa_padding: str) -> None:
    root, layer, payload = _layer(kind, rsa_padding)
    assert verify_layer(layer, payload, root, EXPECT, Sigstore()) is None
    other, _, _ = _layer(kind, rsa_padding)
    with pytest.raises(Rejected) as info:
        verify_layer(layer, payload, other, EXPECT, Sigstore())
    assert info.value.failure == Failure.BAD_SIGNATURE


def test_a_flipped_signature_byte_is_a_bad_signature() -> None:
    root, layer, payload = _layer("ecdsa")
    raw = bytearray(base64.b64decode(layer.signature))
    raw[-1] ^= 1
    broken = Layer(layer.payload_digest, layer.payload_size, base64.b64encode(raw).decode())
    with pytest.raises(Rejected) as info:
        verify_layer(broken, payload, root, EXPECT, Sigstore())
    assert info.value.failure == Failure.BAD_SIGNATURE


def test_small_rsa_and_other_curves_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from kenner.cosign.errors import UnusableKey

    for key in (ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 1024)):
        pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        with pytest.raises(UnusableKey):
            load_public_key(pem)


ROOTS = ["alice", "bob", "charlie"]


def test_star_without_threshold_needs_every_root() -> None:
    need = requirement(ROOTS, "*", None, ())
    assert (need.roots, need.threshold) == (tuple(ROOTS), 3)
    reason = shortfall(need, frozenset({"alice", "bob"}), {"charlie": "bad_signature: x"})
    assert reason == (
        "threshold not reached: 2 of 3 required trust roots signed "
        "(signed: alice, bob; not: charlie (bad_signature: x))"
    )
    assert shortfall(need, frozenset(ROOTS), {}) is None


def test_k_of_n_counts_distinct_roots_and_required_must_sign() -> None:
    need = requirement(ROOTS, "*", 2, ("bob",))
    assert shortfall(need, frozenset({"alice", "charlie"}), {}) == (
        "missing required signer(s): bob (no signature)"
    )
    assert shortfall(need, frozenset({"alice", "bob"}), {}) is None
    # The required root alone is below the threshold.
    assert shortfall(need, frozenset({"bob"}), {}) is not None


def test_a_named_root_and_impossible_thresholds() -> None:
    assert requirement(ROOTS, "bob", None, ()).roots == ("bob",)
    with pytest.raises(RequirementError, match="threshold 2 exceeds"):
        requirement(ROOTS, "bob", 2, ())
    with pytest.raises(RequirementError, match="'dave' is not configured"):
        requirement(ROOTS, "dave", None, ())
    with pytest.raises(RequirementError, match="'default' is not configured"):
        requirement(ROOTS, None, None, ())
