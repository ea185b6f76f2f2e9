"""``with.attestations`` from cosign v3 DSSE bundles: SLSA provenance and scan statements in
Sigstore bundles pushed as OCI 1.1 referrers to the real docker-registry on loopback (found
through the referrers tag schema), made by the project's own Sigstore
(tests/support/sigstore_sim.py: a test CA and a Merkle log with signed checkpoints)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from kenner.admission.verdict import Trusted, Untrusted
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.config.model import RuleOptions
from tests.harness import Testbed
from tests.integration.test_cosign_bundles import Signers, _push_image, _validate
from tests.support.referrers_push import RegistryPusher, referrer_manifest
from tests.support.sigstore_sim import Signing, cosign_v3_bundle

SLSA = "https://slsa.dev/provenance/v1"
REPOSITORY = "kenner-test/bundle-attested"


@attrs.define
class Attesting(Signing):
    """A cosign v3 signing of an in-toto statement of ``predicate_type`` saying ``predicate``."""

    predicate_type: str = SLSA
    predicate: dict[str, Any] = attrs.field(factory=dict)

    def statement(self) -> bytes:
        algorithm, _, value = (self.subject_digest or self.digest).partition(":")
        return json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "registry.test/app", "digest": {algorithm: value}}],
                "predicateType": self.predicate_type,
                "predicate": self.predicate,
            }
        ).encode()


def _bundle(signers: Signers, digest: str, builder: str, **kwargs: Any) -> bytes:
    predicate = {"runDetails": {"builder": {"id": builder}}}
    attesting = Attesting(digest, signers.ca, signers.log, predicate=predicate, **kwargs)
    return json.dumps(cosign_v3_bundle(attesting)).encode()


RULE = AttestationRule(
    SLSA,
    "ci",
    (
        parse_condition(
            {"path": "/predicate/runDetails/builder/id", "prefix": "https://github.com/my-org/"}
        ),
    ),
)


@pytest.mark.testbed
async def test_dsse_bundles_as_attestations(disposable_testbed: Testbed) -> None:
    signers = Signers()
    config = signers.config(disposable_testbed.ca_pem)
    pusher = RegistryPusher(
        f"https://{disposable_testbed.registry_host}", disposable_testbed.ca_pem
    )
    try:
        good, size = _push_image(pusher, REPOSITORY, "good")
        bundle = _bundle(signers, good, "https://github.com/my-org/build")
        pusher.attach(REPOSITORY, referrer_manifest(good, bundle, subject_size=size))
        fork, fork_size = _push_image(pusher, REPOSITORY, "fork")
        bundle = _bundle(signers, fork, "https://github.com/fork/build")
        pusher.attach(REPOSITORY, referrer_manifest(fork, bundle, subject_size=fork_size))
        scan, scan_size = _push_image(pusher, REPOSITORY, "scan-only")
        bundle = _bundle(
            signers, scan, "https://github.com/my-org/build", predicate_type="https://x.test/scan"
        )
        pusher.attach(REPOSITORY, referrer_manifest(scan, bundle, subject_size=scan_size))
    finally:
        pusher.close()
    host = disposable_testbed.registry_host
    options = RuleOptions(trust_root="ci", attestations=(RULE,))
    # The DSSE bundle is the signature (ci) and the provenance at once.
    assert await _validate(config, f"{host}/{REPOSITORY}:good", options) == Trusted(good)
    verdict = await _validate(config, f"{host}/{REPOSITORY}:fork", options)
    assert isinstance(verdict, Untrusted)
    assert verdict.reason == (
        f"attestations on {fork}: attestation '{SLSA}': threshold not reached: 0 of 1 required "
        "trust roots signed (signed: none; not: ci (policy: /predicate/runDetails/builder/id "
        "prefix 'https://github.com/my-org/': got 'https://github.com/fork/build'))"
    )
    verdict = await _validate(config, f"{host}/{REPOSITORY}:scan-only", options)
    assert isinstance(verdict, Untrusted)
    assert "ci (no attestation of this predicate type)" in verdict.reason
    # Read only from the formats the rule names: legacy alone finds neither.
    legacy = attrs.evolve(options, signature_formats=("legacy",))
    verdict = await _validate(config, f"{host}/{REPOSITORY}:good", legacy)
    assert isinstance(verdict, Untrusted)
    assert "no cosign signature" in verdict.reason
