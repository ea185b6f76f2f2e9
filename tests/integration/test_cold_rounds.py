"""Cold validation by digest takes 3 dependent round trips, proven by a gate, not by timing.

Issues 13 and 15 ask, cold by digest, for one round trip for the referrers list and one for the
envelopes or bundles. A referrer's manifest must be read to learn its layer's digest, so the
floor is three: (1) the referrers list (the API and the referrers tag at once, beside the
image's manifest for notation and the legacy ``.sig`` for cosign), (2) the referrer manifests,
(3) their blobs. ``RoundGate`` (tests/support/round_gate.py) stands in front of the registry
and releases kenner's requests one round at a time, so each round counted is a dependent step.

With ``with.attestations`` the attestations are read in the same rounds: the DSSE bundles are
among the referrers already read (once for both), the legacy ``.att`` is asked beside the
``.sig``. Legacy ``.sig`` and ``.att`` alone, by digest, are one round for both manifests and
one for the attestation envelopes (the signature payload is cosign's own, rendered, not
fetched). No request is ever made twice.

Two registries: the real docker-registry 2.8 (no referrers API: its own 404 comes back, the
referrers tag schema holds the list), reached through the referrers front of tests/support
passing every request on (``api=False``), and the same front with the API in front of the same
registry (pushed through it, the signatures get ``OCI-Subject`` and no tag is written). The
verdicts are real: the signatures verify. A second image on the same validator shows what
kenner learnt of the registry: only the source it serves is asked, still three rounds.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.attest.verify import attestation_tag
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.notation.payload import Target
from kenner.oci.manifest import OCI_MANIFEST
from kenner.validators.build import build_validators, open_runtime
from kenner.validators.driver import Driven
from tests.harness import Testbed
from tests.harness.services import StateLayout
from tests.integration.test_cosign_bundle_attestations import RULE, _bundle
from tests.integration.test_cosign_bundles import Signers
from tests.loopback.servers import serve_https
from tests.support.attestations import (
    SLSA_V1,
    attestation_manifest,
    envelope,
    statement,
    store_attestations,
)
from tests.support.cosign_signing import EMPTY_CONFIG, PrivateKey, new_key, public_pem
from tests.support.notation_signing import DAY, Pki, make_pki, sign
from tests.support.referrers_front import ReferrersFront
from tests.support.referrers_push import (
    NOTATION_TYPE,
    Artifact,
    RegistryPusher,
    referrer_manifest,
)
from tests.support.registry_storage import RegistryStorage
from tests.support.round_gate import RoundGate
from tests.support.signed_images import OwnImages

_REQUEST = re.compile(r"GET /v2/.+/(?P<what>manifests|blobs|referrers)/(?P<reference>[^/]+)")
Attach = Callable[[str, int], tuple[Artifact, ...]]


def _kind(request: str, image: str) -> str:
    """What one of kenner's requests reads (``image`` is the digest validated)."""
    match = _REQUEST.fullmatch(request.split("?", 1)[0])
    if match is None:
        return request
    if match["what"] != "manifests":
        return {"blobs": "blob", "referrers": "referrers API"}[match["what"]]
    tag = image.replace(":", "-")
    kinds = {
        image: "image manifest",
        "v1": "image tag",
        tag: "referrers tag",
        f"{tag}.sig": "signature tag",
        f"{tag}.att": "attestation tag",
    }
    return kinds.get(match["reference"], "referrer manifest")


def _rounds(gate: RoundGate, image: str) -> list[list[str]]:
    """The kinds of the requests of each round; no request is made twice."""
    requests = [request for batch in gate.rounds for request in batch]
    assert len(set(requests)) == len(requests), requests
    return [sorted(_kind(request, image) for request in batch) for batch in gate.rounds]


def _push(base_url: str, ca_pem: str, repository: str, attach: Attach) -> str:
    """An image tagged ``v1`` in ``repository`` with ``attach(digest, size)`` attached."""
    pusher = RegistryPusher(base_url, ca_pem)
    try:
        digest, size = pusher.push_image(repository, "v1", json.dumps(repository).encode())
        for artifact in attach(digest, size):
            pusher.attach(repository, artifact)
        return digest
    finally:
        pusher.close()


async def _push_images(
    testbed: Testbed, front: ReferrersFront, repositories: list[str], attach: Attach
) -> list[str]:
    """Push straight to docker-registry (the tag schema), or through the front with the API
    (``OCI-Subject``); the pusher blocks, so it runs in a thread while the front serves."""
    if not front.api:
        base, ca = f"https://{testbed.registry_host}", testbed.ca_pem
        return [
            await trio.to_thread.run_sync(_push, base, ca, repository, attach)
            for repository in repositories
        ]
    async with serve_https(front) as server:
        return [
            await trio.to_thread.run_sync(_push, server.base_url, server.ca_pem, repo, attach)
            for repo in repositories
        ]


async def _validate_gated(
    front: ReferrersFront,
    config_for: Callable[[str], Config],
    name: str,
    repositories: list[str],
    images: list[str],
    options: RuleOptions,
) -> list[list[list[str]]]:
    """Validate each image by digest, cold, one after the other on one validator (so the
    second sees what the first taught it); the rounds of each."""
    async with _gated(front, config_for, name) as (gate, host, driver):
        return [
            await _counted(gate, driver, f"{host}/{repository}@{image}", image, options)
            for repository, image in zip(repositories, images, strict=True)
        ]


@asynccontextmanager
async def _gated(
    front: ReferrersFront, config_for: Callable[[str], Config], name: str
) -> AsyncIterator[tuple[RoundGate, str, Driven]]:
    """The gate in front of ``front``, its host, and the validator ``name`` reading it."""
    gate = RoundGate(front)
    async with gate.releasing(), serve_https(gate) as server, open_runtime() as runtime:
        host = server.base_url.removeprefix("https://")
        yield gate, host, build_validators(config_for(server.ca_pem), runtime)[name]


async def _counted(
    gate: RoundGate, driver: Driven, reference: str, image: str, options: RuleOptions
) -> list[list[str]]:
    """The rounds of one trusted validation of ``reference`` (whose digest is ``image``)."""
    gate.reset()
    assert await driver.answer(parse_image(reference), options) == Trusted(image)
    return _rounds(gate, image)


def _front(testbed: Testbed, api: bool) -> ReferrersFront:
    return ReferrersFront(
        upstream=f"https://{testbed.registry_host}", upstream_ca_pem=testbed.ca_pem, api=api
    )


def _label(api: bool) -> str:
    return "api" if api else "tag-schema"


REGISTRIES = pytest.mark.parametrize("api", [False, True], ids=["docker-registry", "referrers-api"])


@pytest.mark.testbed
@REGISTRIES
async def test_cosign_bundles_by_digest_cold_take_three_rounds(testbed: Testbed, api: bool) -> None:
    signers = Signers()
    front = _front(testbed, api)
    repositories = [f"rounds/bundles-{_label(api)}-{n}" for n in range(2)]

    def attach(digest: str, size: int) -> tuple[Artifact, ...]:
        return (referrer_manifest(digest, signers.keyless(digest), subject_size=size),)

    try:
        images = await _push_images(testbed, front, repositories, attach)
        rounds = await _validate_gated(
            front, signers.config, "cosign", repositories, images, RuleOptions(trust_root="ci")
        )
    finally:
        await front.aclose()
    # Both formats (the default): the legacy .sig is asked beside the referrers list.
    first = ["referrers API", "referrers tag", "signature tag"]
    assert rounds[0] == [first, ["referrer manifest"], ["blob"]]
    # The second image: the registry is known, only the source it serves is asked.
    again = ["referrers API" if api else "referrers tag", "signature tag"]
    assert rounds[1] == [again, ["referrer manifest"], ["blob"]]


@pytest.mark.testbed
@REGISTRIES
async def test_cosign_bundles_and_attestations_by_digest_cold_take_three_rounds(
    testbed: Testbed, api: bool
) -> None:
    signers = Signers()
    front = _front(testbed, api)
    repositories = [f"rounds/attested-{_label(api)}-{n}" for n in range(2)]

    def attach(digest: str, size: int) -> tuple[Artifact, ...]:
        provenance = _bundle(signers, digest, "https://github.com/my-org/build")
        return (
            referrer_manifest(digest, signers.keyless(digest), subject_size=size),
            referrer_manifest(digest, provenance, subject_size=size),
        )

    options = RuleOptions(trust_root="ci", attestations=(RULE,))
    try:
        images = await _push_images(testbed, front, repositories, attach)
        rounds = await _validate_gated(
            front, signers.config, "cosign", repositories, images, options
        )
    finally:
        await front.aclose()
    # The attestations read the referrers the signatures read (each once), and the legacy
    # .att is asked beside the .sig: the same three rounds as the signatures alone.
    first = ["attestation tag", "referrers API", "referrers tag", "signature tag"]
    assert rounds[0] == [first, ["referrer manifest"] * 2, ["blob"] * 2]
    again = sorted(
        ["attestation tag", "referrers API" if api else "referrers tag", "signature tag"]
    )
    assert rounds[1] == [again, ["referrer manifest"] * 2, ["blob"] * 2]


def _legacy_config(keys: dict[str, PrivateKey]) -> Callable[[str], Config]:
    def config_for(ca_pem: str) -> Config:
        roots = [{"name": name, "key": public_pem(key)} for name, key in keys.items()]
        validator = {"name": "cosign", "type": "cosign", "cert": ca_pem, "trustRoots": roots}
        rule = {"trustRoot": "release", "verifyInTransparencyLog": False}
        policy = [{"pattern": "*:*", "validator": "cosign", "with": rule}]
        return load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))

    return config_for


@pytest.mark.testbed
async def test_legacy_signatures_and_attestations_cold_rounds(testbed: Testbed) -> None:
    keys = {name: new_key() for name in ("release", "ci")}
    storage = RegistryStorage(StateLayout(testbed.state_dir).registry_data)
    builder = {"runDetails": {"builder": {"id": "https://github.com/my-org/build"}}}
    prefix = {"path": "/predicate/runDetails/builder/id", "prefix": "https://github.com/my-org/"}
    options = RuleOptions(
        trust_root="release",
        verify_in_transparency_log=False,
        signature_formats=("legacy",),
        attestations=(AttestationRule(SLSA_V1, "ci", (parse_condition(prefix),)),),
    )
    front = _front(testbed, api=False)
    try:
        async with _gated(front, _legacy_config(keys), "cosign") as (gate, host, driver):

            def images(name: str) -> OwnImages:  # signed for the gate's host, as kenner sees it
                return OwnImages(storage, host, f"rounds/legacy-{name}")

            def attested(repository: OwnImages) -> str:
                digest = repository.signed_image("v1", keys["release"])
                provenance = envelope(statement(digest, builder), keys["ci"])
                store_attestations(storage, repository.repository, digest, [provenance])
                return digest

            by_digest, by_tag = images("digest"), images("tag")
            image = attested(by_digest)
            rounds = await _counted(gate, driver, f"{by_digest.ref('v1')}@{image}", image, options)
            # The .sig's payload is cosign's own (rendered, not fetched); the .att's envelope
            # must be read: one round for both manifests, one for the envelope.
            assert rounds == [["attestation tag", "signature tag"], ["blob"]]
            image = attested(by_tag)
            rounds = await _counted(gate, driver, by_tag.ref("v1"), image, options)
            assert rounds == [["image tag"], ["attestation tag", "signature tag"], ["blob"]]

            # Signatures first: the attestations are read beside the signatures, yet an image
            # whose signatures fail is denied for them, even when its .att fails sooner (here
            # in the first round, while the tampered signature's payload is still read).
            broken = images("broken")
            forged = broken.image("forged", b'{"n": "forged"}')
            broken.sign(forged, keys["release"], tamper=True)
            storage.put_manifest(broken.repository, b'{"layers": 7}', attestation_tag(forged))
            verdict = await driver.answer(parse_image(broken.ref("forged")), options)
            assert isinstance(verdict, Untrusted)
            assert verdict.reason.startswith(f"signatures on {forged}: "), verdict.reason
            # A signed image whose attestation cannot be read (its envelope is gone) is denied
            # for that read.
            signed = broken.signed_image("signed", keys["release"])
            lost = envelope(statement(signed, builder), keys["ci"])
            storage.put_blob(broken.repository, EMPTY_CONFIG)
            manifest = attestation_manifest([lost])
            storage.put_manifest(broken.repository, manifest, attestation_tag(signed))
            verdict = await driver.answer(parse_image(broken.ref("signed")), options)
            assert isinstance(verdict, Untrusted)
            assert verdict.reason.startswith("registry error: "), verdict.reason
            assert "no such envelope" in verdict.reason
    finally:
        await front.aclose()


def _pem(pki: Pki) -> str:
    return pki.root.public_bytes(serialization.Encoding.PEM).decode()


def _notation_config(pki: Pki) -> Callable[[str], Config]:
    def config_for(ca_pem: str) -> Config:
        validator = {
            "name": "notation",
            "type": "notation",
            "cert": ca_pem,
            "trustRoots": [{"name": "default", "cert": _pem(pki)}],
        }
        policy = [{"pattern": "*:*", "validator": "notation"}]
        return load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))

    return config_for


@pytest.mark.testbed
@REGISTRIES
async def test_notation_by_digest_cold_takes_three_rounds(testbed: Testbed, api: bool) -> None:
    now = datetime.datetime.now(datetime.UTC)
    pki = make_pki(name="Rounds", not_before=now - DAY, not_after=now + 30 * DAY)
    front = _front(testbed, api)
    repositories = [f"rounds/notation-{_label(api)}-{n}" for n in range(2)]

    def attach(digest: str, size: int) -> tuple[Artifact, ...]:
        envelope = sign(pki, target=Target(OCI_MANIFEST, digest, size))
        artifact = referrer_manifest(
            digest,
            envelope,
            artifact_type=NOTATION_TYPE,
            layer_media_type="application/jose+json",
            subject_size=size,
        )
        return (artifact,)

    try:
        images = await _push_images(testbed, front, repositories, attach)
        rounds = await _validate_gated(
            front, _notation_config(pki), "notation", repositories, images, RuleOptions()
        )
    finally:
        await front.aclose()
    # The image's manifest (the target descriptor) is read beside the referrers list.
    first = ["image manifest", "referrers API", "referrers tag"]
    assert rounds[0] == [first, ["referrer manifest"], ["blob"]]
    again = ["image manifest", "referrers API" if api else "referrers tag"]
    assert rounds[1] == [again, ["referrer manifest"], ["blob"]]
