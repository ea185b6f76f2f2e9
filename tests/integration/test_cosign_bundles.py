"""cosign v3 signatures end to end: Sigstore bundles pushed as OCI 1.1 referrers to the real
docker-registry on loopback, found by the cosign validator and verified against a trusted root.

Debian's docker-registry 2.8 has no referrers API: the pusher maintains the referrers tag
schema as cosign v3 does, and kenner reads it after the API's 404. Through the referrers front
(tests/support/referrers_front.py) in front of the same registry, the pushes are answered with
``OCI-Subject`` and kenner reads the referrers API. The bundles come from the project's own
Sigstore (tests/support/sigstore_sim.py): a test CA, a Merkle log with signed checkpoints, a TSA.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST
from kenner.oci.referrers import referrers_tag
from kenner.validators.build import build_validators, open_runtime
from tests.harness import Testbed
from tests.loopback.servers import serve_https
from tests.support.cosign_signing import public_pem
from tests.support.referrers_front import ReferrersFront, index_entry
from tests.support.referrers_push import Artifact, RegistryPusher, referrer_manifest
from tests.support.sigstore_sim import IDENTITY, ISSUER, Ca, Log, Signing, cosign_v3_bundle
from tests.support.sigstore_sim import trusted_root as make_trusted_root
from tests.support.tsa import make_tsa


class Signers:
    """The Sigstore of these tests and the signers the validator trusts."""

    def __init__(self) -> None:
        self.ca, self.log, self.tsa = Ca(), Log(), make_tsa()
        self.release_key = ec.generate_private_key(ec.SECP256R1())

    def keyless(self, digest: str, **kwargs: Any) -> bytes:
        signing = Signing(digest, self.ca, self.log, **kwargs)
        return json.dumps(cosign_v3_bundle(signing)).encode()

    def keyed(self, digest: str) -> bytes:
        signing = Signing(digest, self.ca, self.log, key=self.release_key, keyed=True)
        return json.dumps(cosign_v3_bundle(signing)).encode()

    def config(self, ca_pem: str) -> Config:
        validator = {
            "name": "cosign",
            "type": "cosign",
            "cert": ca_pem,
            "trustedRoot": json.dumps(make_trusted_root(self.ca, self.log, self.tsa)),
            "trustRoots": [
                {"name": "ci", "keyless": {"issuer": ISSUER, "subject": IDENTITY}},
                {"name": "release", "key": public_pem(self.release_key)},
            ],
        }
        policy = [{"pattern": "*:*", "validator": "cosign", "with": {"trustRoot": "ci"}}]
        return load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))


def _push_image(pusher: RegistryPusher, repository: str, tag: str) -> tuple[str, int]:
    """A tiny OCI image; its manifest digest and size."""
    config = json.dumps({"image": f"{repository}:{tag}"}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": pusher.push_blob(repository, config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    reply = pusher.push_manifest(repository, tag, manifest)
    return reply.headers["docker-content-digest"], len(manifest)


async def _validate(config: Config, image: str, options: RuleOptions) -> Verdict:
    async with open_runtime() as runtime:
        validator = build_validators(config, runtime)["cosign"]
        return await validator.answer(parse_image(image), options)


@pytest.mark.testbed
async def test_cosign_v3_bundles_through_the_referrers_tag_schema(testbed: Testbed) -> None:
    signers = Signers()
    config = signers.config(testbed.ca_pem)
    repository = "kenner-test/bundles"
    pusher = RegistryPusher(f"https://{testbed.registry_host}", testbed.ca_pem)
    try:
        image, size = _push_image(pusher, repository, "v1")
        other, other_size = _push_image(pusher, repository, "v2")
        # keyless (Rekor v1: SET + proof) and key-based (Rekor v2 style needs no SET: TSA)
        assert not pusher.attach(
            repository, referrer_manifest(image, signers.keyless(image), subject_size=size)
        )
        assert not pusher.attach(
            repository, referrer_manifest(image, signers.keyed(image), subject_size=size)
        )
        # v2 carries a bundle signed for v1, and v1's tag lists a referrer of v2
        stolen = referrer_manifest(other, signers.keyless(image), subject_size=other_size)
        pusher.attach(repository, stolen)
        unsigned, _ = _push_image(pusher, repository, "v3")
        lists_stolen = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [index_entry(stolen.manifest)],
        }
        pusher.push_manifest(
            repository, referrers_tag(unsigned), json.dumps(lists_stolen).encode(), OCI_INDEX
        )
    finally:
        pusher.close()
    host = testbed.registry_host
    assert await _validate(config, f"{host}/{repository}:v1", RuleOptions(trust_root="ci")) == (
        Trusted(image)
    )
    both = RuleOptions(trust_root="*", threshold=2)
    assert await _validate(config, f"{host}/{repository}@{image}", both) == Trusted(image)
    # v2's own referrer is a bundle about v1: it verifies nothing for v2
    verdict = await _validate(config, f"{host}/{repository}:v2", RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert f"the in-toto statement is not about {other}" in verdict.reason
    assert "tried bundle (referrers tag schema), legacy" in verdict.reason
    # v3's tag lists v2's referrer: its subject is not v3, so it is not even read further
    verdict = await _validate(config, f"{host}/{repository}:v3", RuleOptions(trust_root="ci"))
    assert isinstance(verdict, Untrusted)
    assert f"ci (referrer {stolen.digest}: the referrer's subject is {other}" in verdict.reason


def _push_through_front(base_url: str, ca_pem: str, signers: Signers) -> tuple[str, Artifact]:
    pusher = RegistryPusher(base_url, ca_pem)
    try:
        image, size = _push_image(pusher, "kenner-test/api", "v1")
        bundle = referrer_manifest(
            image, signers.keyless(image, rekor_v2=True, tsa=signers.tsa), subject_size=size
        )
        assert pusher.attach("kenner-test/api", bundle)  # OCI-Subject: the API has it
        return image, bundle
    finally:
        pusher.close()


@pytest.mark.testbed
async def test_a_rekor_v2_bundle_through_the_referrers_api(testbed: Testbed) -> None:
    signers = Signers()
    front = ReferrersFront(
        upstream=f"https://{testbed.registry_host}", upstream_ca_pem=testbed.ca_pem
    )
    try:
        async with serve_https(front) as server:
            # The pusher blocks: it runs in a thread while the front serves on this loop.
            image, _ = await trio.to_thread.run_sync(
                _push_through_front, server.base_url, server.ca_pem, signers
            )
            host = server.base_url.removeprefix("https://")
            config = signers.config(server.ca_pem)
            verdict = await _validate(
                config, f"{host}/kenner-test/api:v1", RuleOptions(trust_root="ci")
            )
            legacy_only = RuleOptions(trust_root="ci", signature_formats=("legacy",))
            legacy = await _validate(config, f"{host}/kenner-test/api:v1", legacy_only)
    finally:
        await front.aclose()
    assert verdict == Trusted(image)
    assert front.count("/referrers/") == 1
    assert isinstance(legacy, Untrusted)
    assert legacy.reason.endswith("(tried legacy (sha256-" + image[7:] + ".sig): none found)")
