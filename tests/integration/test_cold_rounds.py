"""Cold validation by digest takes 3 dependent round trips, proven by a gate, not by timing.

Issues 13 and 15 ask, cold by digest, for one round trip for the referrers list and one for the
envelopes or bundles. A referrer's manifest must be read to learn its layer's digest, so the
floor is three: (1) the referrers list (the API and the referrers tag at once, beside the
image's manifest for notation and the legacy ``.sig`` for cosign), (2) the referrer manifests,
(3) their blobs. ``RoundGate`` (tests/support/round_gate.py) stands in front of the registry
and releases kenner's requests one round at a time, so each round counted is a dependent step.

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
from collections.abc import Callable

import pytest
import trio
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted
from kenner.config.load import load_config
from kenner.config.model import Config, RuleOptions
from kenner.notation.payload import Target
from kenner.oci.manifest import OCI_MANIFEST
from kenner.validators.build import build_validators, open_runtime
from tests.harness import Testbed
from tests.integration.test_cosign_bundles import Signers
from tests.loopback.servers import serve_https
from tests.support.notation_signing import DAY, Pki, make_pki, sign
from tests.support.referrers_front import ReferrersFront
from tests.support.referrers_push import (
    NOTATION_TYPE,
    Artifact,
    RegistryPusher,
    referrer_manifest,
)
from tests.support.round_gate import RoundGate

_REQUEST = re.compile(r"GET /v2/.+/(?P<what>manifests|blobs|referrers)/(?P<reference>[^/]+)")
Attach = Callable[[str, int], Artifact]


def _kind(request: str, image: str) -> str:
    """What one of kenner's requests reads (``image`` is the digest validated)."""
    match = _REQUEST.fullmatch(request.split("?", 1)[0])
    if match is None:
        return request
    if match["what"] != "manifests":
        return {"blobs": "blob", "referrers": "referrers API"}[match["what"]]
    tag = image.replace(":", "-")
    return {image: "image manifest", tag: "referrers tag", f"{tag}.sig": "signature tag"}.get(
        match["reference"], "referrer manifest"
    )


def _rounds(gate: RoundGate, image: str) -> list[list[str]]:
    return [sorted(_kind(request, image) for request in batch) for batch in gate.rounds]


def _push(base_url: str, ca_pem: str, repository: str, attach: Attach) -> str:
    """An image tagged ``v1`` in ``repository`` with ``attach(digest, size)`` attached."""
    pusher = RegistryPusher(base_url, ca_pem)
    try:
        digest, size = pusher.push_image(repository, "v1", json.dumps(repository).encode())
        pusher.attach(repository, attach(digest, size))
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
    gate = RoundGate(front)
    rounds: list[list[list[str]]] = []
    async with gate.releasing(), serve_https(gate) as server, open_runtime() as runtime:
        host = server.base_url.removeprefix("https://")
        driver = build_validators(config_for(server.ca_pem), runtime)[name]
        for repository, image in zip(repositories, images, strict=True):
            gate.reset()
            verdict = await driver.answer(parse_image(f"{host}/{repository}@{image}"), options)
            assert verdict == Trusted(image)
            rounds.append(_rounds(gate, image))
    return rounds


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

    def attach(digest: str, size: int) -> Artifact:
        return referrer_manifest(digest, signers.keyless(digest), subject_size=size)

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

    def attach(digest: str, size: int) -> Artifact:
        envelope = sign(pki, target=Target(OCI_MANIFEST, digest, size))
        return referrer_manifest(
            digest,
            envelope,
            artifact_type=NOTATION_TYPE,
            layer_media_type="application/jose+json",
            subject_size=size,
        )

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
