"""Loading cosign validators: Connaisseur's files, and the problems reported at load."""

from __future__ import annotations

from typing import Any

import pytest
import trustme
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kenner.config.errors import ConfigError
from kenner.config.load import load_config
from kenner.config.model import CosignValidatorConfig
from tests.shared import connaisseur_fixtures


def _text(validator: dict[str, Any], options: dict[str, Any]) -> str:
    rule = {"pattern": "*:*", "validator": validator["name"], "with": options}
    return yaml.safe_dump({"validators": [validator], "policy": [rule]})


def _fixture(name: str) -> dict[str, Any]:
    path = connaisseur_fixtures() / "cosign" / "validator_configs" / name
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_connaisseur_cosign_configs_load() -> None:
    keys = load_config(
        _text(_fixture("01_cosign.yaml"), {"trustRoot": "*", "verifyInTransparencyLog": False})
    ).validators[0]
    assert isinstance(keys, CosignValidatorConfig)
    assert [root.name for root in keys.trust_roots] == ["alice", "bob"]
    keyless = load_config(_text(_fixture("11_keyless.yaml"), {"trustRoot": "philipp-keyless"}))
    validator = keyless.validators[0]
    assert isinstance(validator, CosignValidatorConfig)
    assert validator.trust_roots[0].keyless is not None
    assert validator.trust_roots[0].keyless.issuer_regex == "github"


def _problems(validator: dict[str, Any], options: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(_text(validator, options))
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_the_transparency_log_needs_a_rekor_key() -> None:
    assert _problems(_fixture("01_cosign.yaml"), {"trustRoot": "alice"}) == [
        "policy[0].with.verifyInTransparencyLog: validator 'default' has no host.rekorPubkey "
        "to verify Rekor bundles with; configure it or set verifyInTransparencyLog: false"
    ]


def test_root_and_threshold_problems() -> None:
    validator = _fixture("01_cosign.yaml")
    roots = validator["trustRoots"]
    validator["trustRoots"] = [
        roots[0],
        {"name": "both", "key": roots[1]["key"], "keyless": {"issuer": "x", "subject": "y"}},
        {"name": "vague", "keyless": {"issuerRegex": "("}},
    ]
    # In line order: safe_dump writes "policy" before "validators".
    assert _problems(validator, {"trustRoot": "*", "threshold": 4, "required": ["carol"]}) == [
        "policy[0].with.verifyInTransparencyLog: validator 'default' has no host.rekorPubkey "
        "to verify Rekor bundles with; configure it or set verifyInTransparencyLog: false",
        "policy[0].with.required[0]: trust root 'carol' is not defined by validator 'default'",
        "validators[0].host: keyless trust roots need host.fulcioCert and host.rekorPubkey, or "
        "trustedRoot (kenner verifies offline and never fetches Sigstore's public roots)",
        "validators[0].trustRoots[1]: trust root 'both' needs exactly one of 'key' or 'keyless'",
        "validators[0].trustRoots[2].keyless: a keyless trust root needs 'subject' or "
        "'subjectRegex'",
        "validators[0].trustRoots[2].keyless.issuerRegex: not a valid regular expression "
        "(missing ), unterminated subpattern at position 0)",
    ]


def test_registry_certs_load_and_are_checked() -> None:
    ca = trustme.CA().cert_pem.bytes().decode()
    validator = _fixture("01_cosign.yaml")
    options = {"trustRoot": "*", "verifyInTransparencyLog": False}
    validator["registryCerts"] = {"registry.example:5000": ca, "[::1]:5000": ca}
    loaded = load_config(_text(validator, options)).validators[0]
    assert isinstance(loaded, CosignValidatorConfig)
    assert loaded.registry_certs == {"registry.example:5000": ca, "[::1]:5000": ca}

    validator["registryCerts"] = {
        "https://registry.example": ca,
        "registry.example/team": ca,
        "docker.io": ca,
        "index.docker.io": ca,
        "other.example": "not a certificate",
    }
    not_a_host = "must be a registry host[:port] such as registry.example:5000 (no scheme, no path)"
    problems = _problems(validator, options)  # in line order: safe_dump sorts the keys
    assert problems[:2] == [
        f"validators[0].registryCerts.https://registry.example: {not_a_host}",
        "validators[0].registryCerts.index.docker.io: names the same registry as 'docker.io'",
    ]
    assert problems[2].startswith(
        "validators[0].registryCerts.other.example: the value is not PEM certificates ("
    )
    assert problems[3:] == [f"validators[0].registryCerts.registry.example/team: {not_a_host}"]
    validator["registryCerts"] = ["registry.example"]
    assert _problems(validator, options) == [
        "validators[0].registryCerts: must be a mapping, got a list"
    ]


def test_k8s_keychain_needs_the_api_and_a_cosign_validator() -> None:
    validator = _fixture("01_cosign.yaml")
    options = {"trustRoot": "*", "verifyInTransparencyLog": False}
    validator["auth"] = {"k8sKeychain": True}
    document = yaml.safe_load(_text(validator, options))
    with_api = load_config(yaml.safe_dump({**document, "kubernetes": {"enabled": True}}))
    loaded = with_api.validators[0]
    assert isinstance(loaded, CosignValidatorConfig)
    assert loaded.auth is not None
    assert loaded.auth.k8s_keychain
    assert _problems(validator, options) == [
        "validators[0].auth.k8sKeychain: needs kubernetes.enabled: true (imagePullSecrets "
        "are read from the API)"
    ]
    notary = {
        "name": "notary",
        "type": "notaryv1",
        "host": "notary.example",
        "trustRoots": [validator["trustRoots"][0]],
        "auth": {"k8sKeychain": True, "secretName": "notary-login"},
    }
    assert _problems(notary, {"trustRoot": "alice"}) == [
        "validators[0].auth.k8sKeychain: imagePullSecrets are used by cosign validators only"
    ]


def test_a_ct_log_key_must_be_one_a_ct_log_can_sign_with() -> None:
    ed25519 = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    validator = _fixture("11_keyless.yaml")
    validator["host"]["ctLogPubkey"] = ed25519
    assert _problems(validator, {"trustRoot": "philipp-keyless"}) == [
        "validators[0].host.ctLogPubkey: the CT log key: a CT log signs with ECDSA or RSA, "
        "and this is an Ed25519 key"
    ]
