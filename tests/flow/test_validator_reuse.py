"""build_validators with ``previous``: which validator objects a reload keeps, which it rebuilds.

Each validator is built on a real runtime (``open_runtime``); a kept validator is the very
object built before (``is``), a rebuilt one a new object. Credentials come from secret files
under a temporary ``secretsDir``, rewritten to rotate them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from kenner.config.errors import ConfigError
from kenner.config.model import (
    Auth,
    CacheConfig,
    Config,
    CosignTrustRoot,
    CosignValidatorConfig,
    Deadlines,
    NotaryV1ValidatorConfig,
    Rule,
    StaticValidatorConfig,
    TrustRoot,
)
from kenner.validators.build import BuiltValidators, Runtime, build_validators, open_runtime
from tests.support.cosign_signing import new_key, public_pem

NOTARY_SECRET = "notary-login"
REGISTRY_SECRET = "registry-login"


def _docker_config(password: str) -> str:
    return json.dumps({"auths": {"registry.kenner.test": {"username": "ci", "password": password}}})


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """A secretsDir with a username/password secret and a .dockerconfigjson secret."""
    (tmp_path / NOTARY_SECRET).mkdir()
    (tmp_path / NOTARY_SECRET / "username").write_text("reader\n")
    (tmp_path / NOTARY_SECRET / "password").write_text("pw-first\n")
    (tmp_path / REGISTRY_SECRET).mkdir()
    (tmp_path / REGISTRY_SECRET / ".dockerconfigjson").write_text(_docker_config("pw-first"))
    return tmp_path


@pytest.fixture
def config(secrets: Path) -> Config:
    """One validator of each type; notaryv1 and cosign read their logins from secrets."""
    notary = NotaryV1ValidatorConfig(
        "notary",
        "https://notary.kenner.test",
        (TrustRoot("default", public_pem(new_key())),),
        auth=Auth(secret_name=NOTARY_SECRET),
    )
    cosign = CosignValidatorConfig(
        "cosign",
        (CosignTrustRoot("ci", key=public_pem(new_key())),),
        auth=Auth(secret_name=REGISTRY_SECRET),
    )
    return Config(
        validators=(StaticValidatorConfig("allow", True), notary, cosign),
        policy=(Rule("*:*", "allow"),),
        secrets_dir=str(secrets),
    )


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with open_runtime() as runtime:
        yield runtime


def _kept(before: BuiltValidators, after: BuiltValidators) -> set[str]:
    return {name for name, validator in after.items() if before.get(name) is validator}


async def test_unchanged_inputs_keep_every_validator(config: Config, runtime: Runtime) -> None:
    before = build_validators(config, runtime)
    policy_edit = attrs.evolve(config, policy=(Rule("*:*", "notary"),))
    after = build_validators(policy_edit, runtime, previous=before)
    assert _kept(before, after) == {"allow", "notary", "cosign"}
    assert after.inputs == before.inputs


async def test_without_previous_every_validator_is_new(config: Config, runtime: Runtime) -> None:
    before = build_validators(config, runtime)
    assert _kept(before, build_validators(config, runtime)) == set()


async def test_a_plain_mapping_records_no_inputs_so_nothing_is_kept(
    config: Config, runtime: Runtime
) -> None:
    before = build_validators(config, runtime)
    after = build_validators(config, runtime, previous=dict(before))
    assert _kept(before, after) == set()


async def test_a_changed_trust_root_rebuilds_that_validator_only(
    config: Config, runtime: Runtime
) -> None:
    before = build_validators(config, runtime)
    allow, notary, cosign = config.validators
    assert isinstance(notary, NotaryV1ValidatorConfig)
    new_root = (TrustRoot("default", public_pem(new_key())),)
    changed = attrs.evolve(
        config, validators=(allow, attrs.evolve(notary, trust_roots=new_root), cosign)
    )
    after = build_validators(changed, runtime, previous=before)
    assert _kept(before, after) == {"allow", "cosign"}
    assert after["notary"] is not before["notary"]


@pytest.mark.parametrize(
    ("cache", "deadlines"),
    [
        (CacheConfig(ttl_s=60.0), Deadlines()),
        (CacheConfig(failure_ttl_s=1.0), Deadlines()),
        (CacheConfig(), Deadlines(request_s=5.0)),
        (CacheConfig(), Deadlines(fetch_s=1.0)),
    ],
)
async def test_a_changed_cache_or_deadline_rebuilds_the_validators_that_read_it(
    config: Config, runtime: Runtime, cache: CacheConfig, deadlines: Deadlines
) -> None:
    before = build_validators(config, runtime)
    changed = attrs.evolve(config, cache=cache, deadlines=deadlines)
    after = build_validators(changed, runtime, previous=before)
    assert _kept(before, after) == {"allow"}  # a static validator reads neither


async def test_a_rotated_password_file_rebuilds_the_notary_validator(
    config: Config, runtime: Runtime, secrets: Path
) -> None:
    before = build_validators(config, runtime)
    (secrets / NOTARY_SECRET / "password").write_text("pw-second\n")
    after = build_validators(config, runtime, previous=before)
    assert _kept(before, after) == {"allow", "cosign"}


async def test_a_rotated_docker_config_rebuilds_the_cosign_validator(
    config: Config, runtime: Runtime, secrets: Path
) -> None:
    before = build_validators(config, runtime)
    (secrets / REGISTRY_SECRET / ".dockerconfigjson").write_text(_docker_config("pw-second"))
    after = build_validators(config, runtime, previous=before)
    assert _kept(before, after) == {"allow", "notary"}


async def test_a_secret_rewritten_with_the_same_values_keeps_the_validators(
    config: Config, runtime: Runtime, secrets: Path
) -> None:
    before = build_validators(config, runtime)
    (secrets / NOTARY_SECRET / "password").write_text("pw-first")  # newline stripped on read
    (secrets / REGISTRY_SECRET / ".dockerconfigjson").write_text(_docker_config("pw-first"))
    after = build_validators(config, runtime, previous=before)
    assert _kept(before, after) == {"allow", "notary", "cosign"}


async def test_a_removed_validator_is_gone_and_a_new_one_is_built(
    config: Config, runtime: Runtime
) -> None:
    before = build_validators(config, runtime)
    deny = StaticValidatorConfig("deny", False)
    changed = attrs.evolve(config, validators=(*config.validators[:2], deny))
    after = build_validators(changed, runtime, previous=before)
    assert list(after) == ["allow", "notary", "deny"]
    assert set(after.inputs) == {"allow", "notary", "deny"}
    assert _kept(before, after) == {"allow", "notary"}
    assert after["deny"].name == "deny"


async def test_a_validator_whose_type_changed_under_its_name_is_rebuilt(
    config: Config, runtime: Runtime
) -> None:
    before = build_validators(config, runtime)
    changed = attrs.evolve(
        config, validators=(StaticValidatorConfig("allow", False), *config.validators[1:])
    )
    after = build_validators(changed, runtime, previous=before)
    assert _kept(before, after) == {"notary", "cosign"}


async def test_an_unreadable_secret_refuses_the_build(
    config: Config, runtime: Runtime, secrets: Path
) -> None:
    before = build_validators(config, runtime)
    (secrets / NOTARY_SECRET / "password").unlink()
    with pytest.raises(ConfigError, match=f"secret '{NOTARY_SECRET}'"):
        build_validators(config, runtime, previous=before)


async def test_build_inputs_never_show_the_credentials(config: Config, runtime: Runtime) -> None:
    built = build_validators(config, runtime)
    shown = repr(built.inputs)
    assert "NotaryV1ValidatorConfig" in shown
    assert "pw-first" not in shown
    assert built.inputs["notary"].credentials is not None
    assert built.inputs["cosign"].credentials is not None
