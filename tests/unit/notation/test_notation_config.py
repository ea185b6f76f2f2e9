"""``type: notation`` in the configuration: every bad value refused at load, at its key."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.config.load import ConfigError, load_config
from kenner.config.model import NotationValidatorConfig
from tests.support.notation_signing import make_pki
from tests.support.tsa import make_tsa

_PKI = make_pki()
ROOT_PEM = _PKI.root.public_bytes(serialization.Encoding.PEM).decode()
LEAF_PEM = _PKI.leaf.public_bytes(serialization.Encoding.PEM).decode()
TSA_PEM = make_tsa().root.public_bytes(serialization.Encoding.PEM).decode()


def _document(root: dict[str, Any] | None = None, rule: dict[str, Any] | None = None) -> str:
    trust_root = {"name": "default", "cert": ROOT_PEM, **(root or {})}
    validator = {"name": "n", "type": "notation", "trustRoots": [trust_root]}
    policy = [{"pattern": "*:*", "validator": "n", "with": rule or {}}]
    return yaml.safe_dump({"validators": [validator], "policy": policy})


def _problems(**kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as raised:
        load_config(_document(**kwargs))
    return [(problem.path, problem.message) for problem in raised.value.problems]


def test_a_full_notation_validator_loads() -> None:
    root = {
        "tsCert": TSA_PEM,
        "trustedIdentities": ["x509.subject: C=US, ST=WA, O=wabbit-networks.io"],
    }
    rule = {"verificationLevel": "permissive", "verifyTimestamp": "afterCertExpiry"}
    config = load_config(_document(root, rule))
    [validator] = config.validators
    assert isinstance(validator, NotationValidatorConfig)
    assert validator.trust_roots[0].ts_cert == TSA_PEM
    assert config.policy[0].options.verification_level == "permissive"
    assert config.policy[0].options.verify_timestamp == "afterCertExpiry"


def test_skip_is_refused_for_admission() -> None:
    [(path, message)] = _problems(rule={"verificationLevel": "skip"})
    assert path == "policy[0].with.verificationLevel"
    assert "refused for admission" in message


@pytest.mark.parametrize(
    ("root", "key", "why"),
    [
        ({"cert": "not pem"}, "cert", "is not PEM certificates"),
        ({"tsCert": LEAF_PEM}, "tsCert", "is not a CA certificate"),
        ({"trustedIdentities": ["x509.subject: C=US, O=x"]}, "trustedIdentities", "lacks ST"),
        (
            {"trustedIdentities": ["*", "x509.subject: C=US, ST=WA, O=x"]},
            "trustedIdentities",
            "only",
        ),
        ({"crl": "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----"}, "crl", "CRL"),
        ({"crl": "nothing"}, "crl", "no PEM"),
    ],
)
def test_a_bad_trust_root_value_is_refused_at_its_key(
    root: dict[str, Any], key: str, why: str
) -> None:
    [(path, message)] = _problems(root=root)
    assert path == f"validators[0].trustRoots[0].{key}"
    assert why in message


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ({"verificationLevel": "lenient"}, "verificationLevel"),
        ({"verifyTimestamp": "never"}, "verifyTimestamp"),
        ({"trustRoot": "missing"}, "trustRoot"),
        ({"trustRoot": "*", "threshold": 2}, "threshold"),
        ({"delegations": ["releases"]}, "delegations"),
    ],
)
def test_a_rule_asking_what_the_validator_cannot_give_is_refused(
    rule: dict[str, Any], key: str
) -> None:
    assert [path for path, _ in _problems(rule=rule)] == [f"policy[0].with.{key}"]


def test_the_pod_keychain_is_cosign_only() -> None:
    document = yaml.safe_load(_document())
    document["validators"][0]["auth"] = {"k8sKeychain": True}
    document["kubernetes"] = {"enabled": True}
    with pytest.raises(ConfigError) as raised:
        load_config(yaml.safe_dump(document))
    assert [p.path for p in raised.value.problems] == ["validators[0].auth.k8sKeychain"]


def test_the_trust_store_type_is_ca_unless_set() -> None:
    [validator] = load_config(_document()).validators
    assert isinstance(validator, NotationValidatorConfig)
    assert validator.trust_roots[0].trust_store_type == "ca"
    root = {"trustStoreType": "signingAuthority"}
    [validator] = load_config(_document(root)).validators
    assert isinstance(validator, NotationValidatorConfig)
    assert validator.trust_roots[0].trust_store_type == "signingAuthority"


@pytest.mark.parametrize("value", ["tsa", "SigningAuthority", 3, ["ca"]])
def test_a_bad_trust_store_type_is_refused_at_its_key_and_line(value: object) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_document({"trustStoreType": value}))
    [problem] = raised.value.problems
    assert problem.path == "validators[0].trustRoots[0].trustStoreType"
    assert problem.line is not None
    assert problem.line > 1
    assert "signingAuthority" in problem.message
