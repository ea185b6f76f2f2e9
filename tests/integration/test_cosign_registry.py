"""The cosign validator against the real docker-registry on loopback.

Connaisseur's real signatures are served byte-exactly from the registry's storage; the
project's own images are signed here with keys made in the test, in Cosign's format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.validators.build import build_validators, open_runtime
from tests.harness import Testbed
from tests.harness.services import StateLayout
from tests.shared import connaisseur_fixtures
from tests.support.cosign_signing import PrivateKey, new_key, public_pem
from tests.support.registry_storage import RegistryStorage
from tests.support.signed_images import OwnImages

FIXTURE_REPO = "securesystemsengineering/testimage"
ALICE_DIGEST = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
KEYLESS_DIGEST = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"


@pytest.fixture
def needs_connaisseur_fixtures() -> None:
    """Looked up before trio starts (and before the test bed): pytest-trio drops the reason of
    a skip raised inside a trio test."""
    connaisseur_fixtures()


def _storage(testbed: Testbed) -> RegistryStorage:
    return RegistryStorage(StateLayout(testbed.state_dir).registry_data)


def _serve_fixtures(testbed: Testbed) -> Path:
    folder = connaisseur_fixtures() / "cosign" / "registry" / FIXTURE_REPO
    storage = _storage(testbed)
    for path in (folder / "manifests").glob("*.json"):
        if path.name != "co-unsigned.json":  # '{}' is not a manifest a registry can serve
            storage.put_manifest(FIXTURE_REPO, path.read_bytes(), path.name.removesuffix(".json"))
    for path in (folder / "blobs").glob("*.json"):
        storage.put_blob(FIXTURE_REPO, path.read_bytes())
    return connaisseur_fixtures() / "cosign"


def _config(testbed: Testbed, validator: dict[str, object]) -> Config:
    validator = {**validator, "name": "cosign", "type": "cosign", "cert": testbed.ca_pem}
    rule_options = {"trustRoot": "*", "verifyInTransparencyLog": False}
    policy = [{"pattern": "*:*", "validator": "cosign", "with": rule_options}]
    return load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))


async def _validate(config: Config, image: str, options: RuleOptions) -> Verdict:
    async with open_runtime() as runtime:
        validator = build_validators(config, runtime)["cosign"]
        return await validator.answer(parse_image(image), options)


def _fixture_keys(folder: Path, *names: str) -> list[dict[str, str]]:
    return [{"name": n, "key": (folder / "keys" / f"{n}.key").read_text()} for n in names]


@pytest.mark.testbed
@pytest.mark.usefixtures("needs_connaisseur_fixtures")
async def test_real_key_signature_through_the_registry(disposable_testbed: Testbed) -> None:
    folder = _serve_fixtures(disposable_testbed)
    config = _config(disposable_testbed, {"trustRoots": _fixture_keys(folder, "alice", "bob")})
    image = f"{disposable_testbed.registry_host}/{FIXTURE_REPO}:multi-cosigned-alice"
    options = RuleOptions(trust_root="alice", verify_in_transparency_log=False)
    # The payload names index.docker.io/...: the strict default refuses the copy...
    verdict = await _validate(config, image, options)
    assert isinstance(verdict, Untrusted)
    assert "reference_mismatch" in verdict.reason
    # ...and comparing the repository path only accepts it, pinned to the signed digest.
    path_only = RuleOptions(
        trust_root="alice", verify_in_transparency_log=False, signed_reference="path"
    )
    assert await _validate(config, image, path_only) == Trusted(ALICE_DIGEST)
    both = RuleOptions(
        trust_root="*", required=("bob",), verify_in_transparency_log=False, signed_reference="path"
    )
    verdict = await _validate(config, image, both)
    assert isinstance(verdict, Untrusted)
    assert (
        "missing required signer(s): bob (bad_signature: the "
        "signature does not verify with the key)"
    ) in verdict.reason
    missing = await _validate(config, image.replace(":multi-cosigned-alice", ":nope"), path_only)
    assert isinstance(missing, Untrusted)
    assert "does not exist" in missing.reason


@pytest.mark.testbed
@pytest.mark.usefixtures("needs_connaisseur_fixtures")
async def test_real_keyless_signature_through_the_registry(disposable_testbed: Testbed) -> None:
    folder = _serve_fixtures(disposable_testbed)
    keyless = yaml.safe_load((folder / "validator_configs/11_keyless.yaml").read_text())
    config = _config(
        disposable_testbed, {"host": keyless["host"], "trustRoots": keyless["trustRoots"]}
    )
    image = f"{disposable_testbed.registry_host}/{FIXTURE_REPO}:keyless"
    philipp = RuleOptions(trust_root="philipp-keyless", signed_reference="any")
    assert await _validate(config, image, philipp) == Trusted(KEYLESS_DIGEST)
    bob = RuleOptions(trust_root="bob-keyless", signed_reference="any")
    verdict = await _validate(config, image, bob)
    assert isinstance(verdict, Untrusted)
    assert "identity_mismatch" in verdict.reason
    by_digest = f"{disposable_testbed.registry_host}/{FIXTURE_REPO}@{KEYLESS_DIGEST}"
    assert await _validate(config, by_digest, philipp) == Trusted(KEYLESS_DIGEST)


def _own_images(testbed: Testbed, repository: str) -> OwnImages:
    return OwnImages(_storage(testbed), testbed.registry_host, repository)


def _own_config(testbed: Testbed, keys: dict[str, PrivateKey]) -> Config:
    roots = [{"name": name, "key": public_pem(key)} for name, key in keys.items()]
    return _config(testbed, {"trustRoots": roots})


def _options(**kwargs: object) -> RuleOptions:
    return RuleOptions(verify_in_transparency_log=False, **kwargs)  # type: ignore[arg-type]


@pytest.mark.testbed
async def test_own_signatures_k_of_n_required_and_failures(disposable_testbed: Testbed) -> None:
    keys = {name: new_key("ecdsa") for name in ("alice", "bob", "charlie")}
    config = _own_config(disposable_testbed, keys)
    images = _own_images(disposable_testbed, "kenner-test/cosign")
    two = images.image("two", b'{"n": 2}')
    images.sign(two, keys["alice"], keys["bob"])
    twice = images.image("twice", b'{"n": 3}')
    images.sign(twice, keys["alice"], keys["alice"])
    images.image("unsigned", b'{"n": 4}')
    tampered = images.image("tampered", b'{"n": 5}')
    images.sign(tampered, keys["alice"], tamper=True)

    assert await _validate(config, images.ref("two"), _options(trust_root="*", threshold=2)) == (
        Trusted(two)
    )
    verdict = await _validate(config, images.ref("two"), _options(trust_root="*"))
    assert isinstance(verdict, Untrusted)
    assert "threshold not reached: 2 of 3" in verdict.reason
    assert "charlie (bad_signature" in verdict.reason
    verdict = await _validate(
        config, images.ref("two"), _options(trust_root="*", threshold=2, required=("charlie",))
    )
    assert isinstance(verdict, Untrusted)
    assert "missing required signer(s): charlie" in verdict.reason
    # required alone: exactly those roots must sign (Connaisseur 3); charlie's absence is fine.
    for required in (("alice",), ("alice", "bob")):
        options = _options(trust_root="*", required=required)
        assert await _validate(config, images.ref("two"), options) == Trusted(two)
    verdict = await _validate(
        config, images.ref("two"), _options(trust_root="*", required=("charlie",))
    )
    assert isinstance(verdict, Untrusted)
    assert "missing required signer(s): charlie" in verdict.reason
    # One key signing twice is one signer.
    verdict = await _validate(config, images.ref("twice"), _options(trust_root="*", threshold=2))
    assert isinstance(verdict, Untrusted)
    assert "1 of 2" in verdict.reason
    verdict = await _validate(config, images.ref("unsigned"), _options(trust_root="alice"))
    assert isinstance(verdict, Untrusted)
    assert "no cosign signature" in verdict.reason
    verdict = await _validate(config, images.ref("tampered"), _options(trust_root="alice"))
    assert isinstance(verdict, Untrusted)
    assert "bad_signature" in verdict.reason
    wrong = _own_config(disposable_testbed, {"alice": new_key("ed25519")})
    verdict = await _validate(wrong, images.ref("two"), _options(trust_root="alice"))
    assert isinstance(verdict, Untrusted)
    assert "bad_signature" in verdict.reason


@pytest.mark.testbed
async def test_index_and_platform_digests(disposable_testbed: Testbed) -> None:
    key = new_key("rsa-pkcs1")
    config = _own_config(disposable_testbed, {"default": key})
    images = _own_images(disposable_testbed, "kenner-test/multi")
    amd64 = images.image("amd64-only", b'{"arch": "amd64"}')
    arm64 = images.image("arm64-only", b'{"arch": "arm64"}')
    index = images.index("v1", [amd64, arm64])
    images.sign(index, key)
    assert await _validate(config, images.ref("v1"), _options()) == Trusted(index)
    platform = f"{images.ref('v1')}@{amd64}"
    verdict = await _validate(config, platform, _options())
    assert isinstance(verdict, Untrusted)
    assert "no cosign signature" in verdict.reason
    assert await _validate(config, platform, _options(platform_from_index=True)) == (Trusted(amd64))
    stranger = images.image("stranger", b'{"arch": "other"}')
    verdict = await _validate(
        config, f"{images.ref('v1')}@{stranger}", _options(platform_from_index=True)
    )
    assert isinstance(verdict, Untrusted)
    assert "names no index containing it" in verdict.reason
