"""Pinned-key parsing, key ids, and every key type / signature method notary uses."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from kenner.tuf.keys import (
    KeyFormatError,
    key_from_metadata,
    key_id,
    parse_public_key_pem,
    verify_signature,
)
from tests.unit.tuf.builder import generate_key
from tests.unit.tuf.realdata import DEFAULT_KEY, notary_dir, pinned

KEY_TYPES = ["ecdsa", "ecdsa-x509", "rsa", "rsa-x509", "ed25519"]


def trust_roots(config: str) -> dict[str, str]:
    loaded = yaml.safe_load((notary_dir() / "validator_configs" / config).read_text())
    return {root["name"]: root["key"] for root in loaded["trustRoots"]}


def test_connaisseur_trust_root_keys_parse_by_algorithm() -> None:
    assert {
        name: parse_public_key_pem(pem).algorithm
        for name, pem in trust_roots("01_notaryv1.yaml").items()
    } == {"default": "ecdsa", "sse": "ecdsa"}
    assert parse_public_key_pem(trust_roots("06_rsa_key.yaml")["rsa"]).algorithm == "rsa"
    assert parse_public_key_pem(trust_roots("10_unknown_keys.yaml")["ed25519"]).algorithm == (
        "ed25519"
    )


def test_trailing_whitespace_is_fine_but_extra_text_is_refused() -> None:
    roots = trust_roots("09_extra_chars.yaml")
    sse = parse_public_key_pem(trust_roots("01_notaryv1.yaml")["sse"])
    assert parse_public_key_pem(roots["moreWhitespace"]) == sse
    with pytest.raises(KeyFormatError, match="single PEM"):
        parse_public_key_pem(roots["moreLines"])


def test_unsupported_algorithm_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="not a supported public key"):
        parse_public_key_pem(trust_roots("10_unknown_keys.yaml")["dilithium"])


def test_pinned_key_equals_the_key_inside_notarys_root_certificate() -> None:
    root = json.loads((notary_dir() / "alice-image" / "root.json").read_text())["signed"]
    root_id = root["roles"]["root"]["keyids"][0]
    certificate_key = root["keys"][root_id]
    assert certificate_key["keytype"] == "ecdsa-x509"
    from_certificate = key_from_metadata("ecdsa-x509", certificate_key["keyval"]["public"])
    assert from_certificate == pinned(DEFAULT_KEY)
    assert key_id("ecdsa-x509", certificate_key["keyval"]["public"]) == root_id
    # The bare key has another id: ids differ per form, public keys do not.
    bare = base64.b64encode(from_certificate.material).decode()
    assert key_from_metadata("ecdsa", bare) == from_certificate
    assert key_id("ecdsa", bare) != root_id


def test_pinned_certificate_pem_gives_the_same_key_as_the_bare_key() -> None:
    certificate = (notary_dir() / "never-expire-keys" / "root.crt").read_text()
    bare = (notary_dir() / "never-expire-keys" / "root.pub").read_text()
    assert parse_public_key_pem(certificate) == parse_public_key_pem(bare)


@pytest.mark.parametrize("keytype", KEY_TYPES)
def test_each_key_type_signs_and_verifies_with_its_method(keytype: str) -> None:
    key = generate_key(keytype)
    message = b'{"_type":"Targets"}'
    signature = key.sign(message)
    assert verify_signature(key.public_key, key.method, signature, message)
    assert not verify_signature(key.public_key, key.method, signature, message + b" ")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_signature(key.public_key, key.method, flipped, message)
    assert parse_public_key_pem(key.pem()) == key.public_key


@pytest.mark.parametrize(
    ("keytype", "wrong_method"),
    [
        ("ecdsa", "eddsa"),
        ("rsa", "ecdsa"),
        ("ed25519", "rsapss"),
        ("ecdsa", "rsapkcs1v15"),
    ],
)
def test_a_method_that_does_not_fit_the_key_never_verifies(keytype: str, wrong_method: str) -> None:
    key = generate_key(keytype)
    assert not verify_signature(key.public_key, wrong_method, key.sign(b"m"), b"m")


def test_ecdsa_signature_must_be_raw_r_s_of_curve_size() -> None:
    key = generate_key("ecdsa")
    signature = key.sign(b"m")
    assert len(signature) == 64
    assert not verify_signature(key.public_key, "ecdsa", signature[:63], b"m")
    assert not verify_signature(key.public_key, "ecdsa", b"\x00" + signature, b"m")


@pytest.mark.parametrize(
    ("keytype", "public", "problem"),
    [
        ("ecdsa", "bm90IGEga2V5", "not a public key"),
        ("ecdsa", "***", "not base64"),
        ("ed25519", base64.b64encode(b"short").decode(), "5 bytes"),
        ("ecdsa-x509", base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode(), "certificate"),
        ("dilithium", "AAAA", "not supported"),
    ],
)
def test_unreadable_metadata_keys_are_refused(keytype: str, public: str, problem: str) -> None:
    with pytest.raises(KeyFormatError, match=problem):
        key_from_metadata(keytype, public)


def test_key_type_must_match_the_key_it_holds() -> None:
    ecdsa = generate_key("ecdsa")
    with pytest.raises(KeyFormatError, match="rsa key holds an ecdsa key"):
        key_from_metadata("rsa", ecdsa.public_b64)
