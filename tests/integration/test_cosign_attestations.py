"""``with.attestations`` through the real docker-registry on loopback: cosign's legacy
``.att`` manifests with DSSE envelopes signed here, next to ``.sig`` signatures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.attest.dsse import MAX_ENVELOPE_BYTES
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.attest.verify import attestation_tag
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.cosign import MAX_ATTESTATION_LAYERS
from tests.harness import Testbed
from tests.harness.services import StateLayout
from tests.support.attestations import (
    SLSA_V1,
    attestation_manifest,
    envelope,
    statement,
    store_attestations,
)
from tests.support.cosign_signing import EMPTY_CONFIG, PrivateKey, new_key, public_pem
from tests.support.registry_storage import RegistryStorage
from tests.support.signed_images import OwnImages

REPOSITORY = "kenner-test/attested"
BUILDER = "https://github.com/my-org/app/.github/workflows/release.yml@refs/heads/main"
SCAN = "https://in-toto.io/attestation/vulns/v0.1"


def _provenance(builder: str = BUILDER, age: timedelta = timedelta(days=1)) -> dict[str, Any]:
    started = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"runDetails": {"builder": {"id": builder}, "metadata": {"startedOn": started}}}


SLSA_POLICY = (
    parse_condition(
        {"path": "/predicate/runDetails/builder/id", "prefix": "https://github.com/my-org/"}
    ),
    parse_condition({"path": "/predicate/runDetails/metadata/startedOn", "maxAge": "30d"}),
)


def _config(testbed: Testbed, keys: dict[str, PrivateKey]) -> Config:
    roots = [{"name": name, "key": public_pem(key)} for name, key in keys.items()]
    validator = {"name": "cosign", "type": "cosign", "cert": testbed.ca_pem, "trustRoots": roots}
    rule = {
        "pattern": "*:*",
        "validator": "cosign",
        "with": {"trustRoot": "release", "verifyInTransparencyLog": False},
    }
    return load_config(yaml.safe_dump({"validators": [validator], "policy": [rule]}))


def _options(*attestations: AttestationRule) -> RuleOptions:
    return RuleOptions(
        trust_root="release", verify_in_transparency_log=False, attestations=attestations
    )


async def _validate(config: Config, image: str, options: RuleOptions) -> Verdict:
    async with open_runtime() as runtime:
        validator = build_validators(config, runtime)["cosign"]
        return await validator.answer(parse_image(image), options)


@pytest.mark.testbed
async def test_attestations_from_att_manifests(disposable_testbed: Testbed) -> None:
    keys = {name: new_key() for name in ("release", "ci", "scanner")}
    config = _config(disposable_testbed, keys)
    storage = RegistryStorage(StateLayout(disposable_testbed.state_dir).registry_data)
    images = OwnImages(storage, disposable_testbed.registry_host, REPOSITORY)

    def image(tag: str, *envelopes: bytes) -> str:
        digest = images.signed_image(tag, keys["release"])
        if envelopes:
            store_attestations(storage, REPOSITORY, digest, envelopes)
        return digest

    good = image("good")
    store_attestations(
        storage, REPOSITORY, good, [envelope(statement(good, _provenance()), keys["ci"])]
    )
    slsa = AttestationRule(SLSA_V1, "ci", SLSA_POLICY)
    assert await _validate(config, images.ref("good"), _options(slsa)) == Trusted(good)

    # No .att at all: the image is signed, the attestation is missing.
    bare = image("bare")
    verdict = await _validate(config, images.ref("bare"), _options(slsa))
    assert verdict == Untrusted(
        f"attestations on {bare}: attestation '{SLSA_V1}': threshold not reached: 0 of 1 "
        f"required trust roots signed (signed: none; not: ci (no attestation "
        f"(none in bundle referrers or {bare.replace(':', '-')}.att)))"
    )

    # The policy fails: the denial names the predicate type and the first failed condition.
    fork = image("fork")
    store_attestations(
        storage,
        REPOSITORY,
        fork,
        [envelope(statement(fork, _provenance("https://github.com/fork/app")), keys["ci"])],
    )
    verdict = await _validate(config, images.ref("fork"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert verdict.reason.endswith(
        "not: ci (policy: /predicate/runDetails/builder/id prefix 'https://github.com/my-org/': "
        "got 'https://github.com/fork/app'))"
    )
    old = image("old")
    aged = _provenance(age=timedelta(days=45))
    store_attestations(storage, REPOSITORY, old, [envelope(statement(old, aged), keys["ci"])])
    verdict = await _validate(config, images.ref("old"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert "/predicate/runDetails/metadata/startedOn maxAge 30d" in verdict.reason
    assert "older than 30d" in verdict.reason

    # Signed by another key, or about another image: never counts.
    stranger = image("stranger")
    store_attestations(
        storage, REPOSITORY, stranger, [envelope(statement(stranger, _provenance()), new_key())]
    )
    verdict = await _validate(config, images.ref("stranger"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert "ci (bad_signature: the envelope does not verify with the key)" in verdict.reason
    copied = image("copied")
    store_attestations(
        storage, REPOSITORY, copied, [envelope(statement(good, _provenance()), keys["ci"])]
    )
    verdict = await _validate(config, images.ref("copied"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert f"ci (its statement's subject is not {copied})" in verdict.reason

    # An attested but unsigned image is still denied: attestations add to signatures.
    unsigned = images.image("unsigned", b'{"n": "unsigned"}')
    store_attestations(
        storage, REPOSITORY, unsigned, [envelope(statement(unsigned, _provenance()), keys["ci"])]
    )
    verdict = await _validate(config, images.ref("unsigned"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert "no cosign signature" in verdict.reason


@pytest.mark.testbed
async def test_several_predicate_types_and_distinct_roots(disposable_testbed: Testbed) -> None:
    keys = {name: new_key() for name in ("release", "ci", "scanner")}
    config = _config(disposable_testbed, keys)
    storage = RegistryStorage(StateLayout(disposable_testbed.state_dir).registry_data)
    images = OwnImages(storage, disposable_testbed.registry_host, REPOSITORY)
    digest = images.signed_image("both", keys["release"])
    scan = {"scanner": {"uri": "pkg:github/aquasecurity/trivy@0.58.1", "result": []}}
    store_attestations(
        storage,
        REPOSITORY,
        digest,
        [
            envelope(statement(digest, _provenance()), keys["ci"]),
            envelope(statement(digest, scan, SCAN), keys["scanner"]),
            envelope(statement(digest, scan, SCAN), keys["scanner"]),  # one root, twice
        ],
    )
    slsa = AttestationRule(SLSA_V1, "ci", SLSA_POLICY)
    clean = AttestationRule(
        SCAN,
        "scanner",
        (parse_condition({"path": "/predicate/scanner/result/0", "exists": False}),),
    )
    ref = images.ref("both")
    assert await _validate(config, ref, _options(slsa, clean)) == Trusted(digest)
    # Two distinct roots must have attested the scan: the scanner's two count once.
    twice = AttestationRule(SCAN, "*", (), threshold=2)
    verdict = await _validate(config, ref, _options(slsa, twice))
    assert isinstance(verdict, Untrusted)
    assert f"attestation '{SCAN}': threshold not reached: 1 of 2" in verdict.reason
    # A rule naming a predicate type no envelope has.
    sbom = AttestationRule("https://spdx.dev/Document", "ci", ())
    verdict = await _validate(config, ref, _options(slsa, sbom))
    assert isinstance(verdict, Untrusted)
    assert "ci (no attestation of this predicate type)" in verdict.reason
    assert json.dumps(verdict.reason)  # a plain string, fit for the decision log


@pytest.mark.testbed
async def test_hostile_att_manifests(disposable_testbed: Testbed) -> None:
    keys = {name: new_key() for name in ("release", "ci")}
    config = _config(disposable_testbed, keys)
    storage = RegistryStorage(StateLayout(disposable_testbed.state_dir).registry_data)
    images = OwnImages(storage, disposable_testbed.registry_host, REPOSITORY)
    slsa = AttestationRule(SLSA_V1, "ci", SLSA_POLICY)

    # Layers past MAX_ATTESTATION_LAYERS are ignored: a good envelope behind 32 junk ones
    # does not count (denied, never admitted unverified), in front of them it does.
    behind = images.signed_image("behind", keys["release"])
    junk = [envelope(statement(behind, {"n": n}), new_key()) for n in range(MAX_ATTESTATION_LAYERS)]
    good = envelope(statement(behind, _provenance()), keys["ci"])
    store_attestations(storage, REPOSITORY, behind, [*junk, good])
    verdict = await _validate(config, images.ref("behind"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert "ci (bad_signature: the envelope does not verify with the key)" in verdict.reason
    ahead = images.signed_image("ahead", keys["release"])
    good = envelope(statement(ahead, _provenance()), keys["ci"])
    junk = [envelope(statement(ahead, {"n": n}), new_key()) for n in range(MAX_ATTESTATION_LAYERS)]
    store_attestations(storage, REPOSITORY, ahead, [good, *junk])
    assert await _validate(config, images.ref("ahead"), _options(slsa)) == Trusted(ahead)

    # An envelope announced as larger than MAX_ENVELOPE_BYTES is not fetched.
    large = images.signed_image("large", keys["release"])
    blob = envelope(statement(large, _provenance()), keys["ci"])
    storage.put_blob(REPOSITORY, blob)
    manifest = json.loads(attestation_manifest([blob]))
    manifest["layers"][0]["size"] = MAX_ENVELOPE_BYTES + 1
    storage.put_blob(REPOSITORY, EMPTY_CONFIG)
    storage.put_manifest(REPOSITORY, json.dumps(manifest).encode(), attestation_tag(large))
    verdict = await _validate(config, images.ref("large"), _options(slsa))
    assert isinstance(verdict, Untrusted)
    assert f"ci (1 envelope(s) over {MAX_ENVELOPE_BYTES} bytes)" in verdict.reason

    # Garbage where the envelope should be: refused as malformed, the rest still read.
    garbage = images.signed_image("garbage", keys["release"])
    store_attestations(
        storage,
        REPOSITORY,
        garbage,
        [
            b"\xff" * 100,
            b'{"payloadType": 1}',
            envelope(statement(garbage, _provenance()), keys["ci"]),
        ],
    )
    assert await _validate(config, images.ref("garbage"), _options(slsa)) == Trusted(garbage)
