"""The scope of a cosign validator's plain login (``kenner.config.login_scope``): which
registries it may be sent to, from ``auth.registry`` or the literal hosts of its rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kenner.admission.policy import literal_registry
from kenner.config.errors import ConfigError
from kenner.config.load import load_config
from kenner.config.login_scope import plain_login_scope
from kenner.config.model import Config, CosignValidatorConfig
from tests.support.cosign_signing import new_key, public_pem

KEY = public_pem(new_key())


@pytest.mark.parametrize(
    ("pattern", "host"),
    [
        ("reg.example/team/*:*", "reg.example"),
        ("Reg.Example:5000/app", "reg.example:5000"),
        ("nginx", "docker.io"),
        ("myorg/app:*", "docker.io"),
        ("index.docker.io/myorg/*", "docker.io"),
        ("localhost/app", "localhost"),
        ("*:*", None),
        ("*", None),
        ("*.example/*", None),
        ("reg.example?/*", None),
        ("reg.*/app", None),
    ],
)
def test_literal_registry(pattern: str, host: str | None) -> None:
    assert literal_registry(pattern) == host


LOGIN = {"username": "u", "password": "p"}


def _load(auth: dict[str, Any], *patterns: str) -> tuple[CosignValidatorConfig, Config]:
    """A config whose ``patterns`` use the cosign validator and ``other.example/*`` another."""
    cosign = {"name": "cosign", "type": "cosign", "trustRoots": [{"name": "default", "key": KEY}]}
    validators = [{**cosign, "auth": auth}, {"name": "other", "type": "static", "approve": True}]
    options = {"verifyInTransparencyLog": False}
    policy: list[dict[str, Any]] = [
        {"pattern": pattern, "validator": "cosign", "with": options} for pattern in patterns
    ]
    policy.append({"pattern": "other.example/*", "validator": "other"})
    config = load_config(yaml.safe_dump({"validators": validators, "policy": policy}))
    validator = config.validators[0]
    assert isinstance(validator, CosignValidatorConfig)
    return validator, config


def test_scope_is_the_literal_hosts_of_the_validators_own_rules() -> None:
    patterns = ("*:*", "REG.example/a/*", "registry-1.docker.io/org/*", "nginx", "*.evil/*")
    validator, config = _load(LOGIN, *patterns)
    # other.example belongs to another validator's rule: not in this login's scope.
    assert plain_login_scope(validator, config.policy) == {"reg.example", "docker.io"}


@pytest.mark.parametrize(
    ("registry", "stored"),
    [
        ("Reg.Example:5000", "reg.example:5000"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
    ],
)
def test_auth_registry_is_normalised_and_alone_is_the_scope(registry: str, stored: str) -> None:
    validator, _ = _load({**LOGIN, "registry": registry}, "*:*", "reg.example/*")
    assert validator.auth is not None
    assert validator.auth.registry == stored
    assert plain_login_scope(validator, ()) == {stored}


@pytest.mark.parametrize("registry", ["https://reg.example", "reg.example/team", "", "a b"])
def test_auth_registry_must_be_a_host(registry: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _load({**LOGIN, "registry": registry}, "reg.example/*")
    assert [problem.path for problem in refused.value.problems] == ["validators[0].auth.registry"]
    assert "must be a registry host[:port]" in str(refused.value)


def test_host_globs_and_other_validators_rules_give_no_scope() -> None:
    with pytest.raises(ConfigError, match=r"validators\[0\]\.auth\.username: a plain login"):
        _load(LOGIN, "*:*", "*.example/*")
