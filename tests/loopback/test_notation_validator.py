"""The notation validator end to end against an HTTPS registry front on 127.0.0.1.

The front (tests/support/referrers_front.py) serves manifests, blobs and the OCI 1.1 referrers
API from memory; with ``api=False`` it answers the API with 404 and the referrers tag schema's
index is read instead (as from Connaisseur's Go mock registry, whose real signature is served
here byte-exactly). Envelopes of the project's own signer (tests/support/notation_signing.py)
cover the rest. The real docker-registry: tests/integration/test_notation_registry.py.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.load import load_config
from kenner.config.model import RuleOptions
from kenner.notation.payload import Target
from kenner.oci.manifest import OCI_INDEX, OCI_MANIFEST, digest_of
from kenner.oci.referrers import referrers_tag
from kenner.validators.build import build_validators, open_runtime
from tests.loopback.servers import serve_https
from tests.shared import connaisseur_fixtures
from tests.support.notation_signing import DAY, Pki, make_pki, sign
from tests.support.referrers_front import ReferrersFront, index_entry
from tests.support.referrers_push import NOTATION_TYPE, referrer_manifest

REPO = "team/app"
JWS = "application/jose+json"
COSE = "application/cose"


def _pki(name: str = "Leaf") -> Pki:
    """A signer valid now (these tests run on the wall clock)."""
    now = datetime.datetime.now(datetime.UTC)
    return make_pki(name=name, not_before=now - DAY, not_after=now + 30 * DAY)


def _image_manifest(seed: str = "app") -> bytes:
    config = b'{"architecture":"amd64","os":"linux","seed":"%s"}' % seed.encode()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()


def _pem(pki: Pki) -> str:
    return pki.root.public_bytes(serialization.Encoding.PEM).decode()


def _publish(front: ReferrersFront, tag: str = "v1", seed: str = "app") -> Target:
    manifest = _image_manifest(seed)
    digest = front.put_manifest(REPO, manifest, tag)
    return Target(OCI_MANIFEST, digest, len(manifest))


def _attach(front: ReferrersFront, target: Target, envelope: bytes, media_type: str = JWS) -> None:
    artifact = referrer_manifest(
        target.digest,
        envelope,
        artifact_type=NOTATION_TYPE,
        layer_media_type=media_type,
        subject_size=target.size,
    )
    front.attach(REPO, artifact.manifest)
    for blob in artifact.blobs:
        front.put_blob(blob)
    if not front.api:  # keep the referrers tag schema's index, as a pusher does
        entries = front.referrers[(REPO, target.digest)]
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX}
        index["manifests"] = entries
        front.manifests[(REPO, referrers_tag(target.digest))] = json.dumps(index).encode()


@asynccontextmanager
async def _validating(
    front: ReferrersFront, roots: dict[str, str], rule: dict[str, Any] | None = None
) -> AsyncIterator[tuple[str, Any]]:
    async with serve_https(front) as server:
        validator = {
            "name": "notation",
            "type": "notation",
            "cert": server.ca_pem,
            "trustRoots": [{"name": name, "cert": pem} for name, pem in roots.items()],
        }
        policy = [{"pattern": "*:*", "validator": "notation", "with": rule or {}}]
        config = load_config(yaml.safe_dump({"validators": [validator], "policy": policy}))
        async with open_runtime() as runtime:
            built = build_validators(config, runtime)["notation"]
            host = server.base_url.removeprefix("https://")
            yield host, built


async def _validate(built: Any, image: str, **options: Any) -> Verdict:
    verdict: Verdict = await built.answer(parse_image(image), RuleOptions(**options))
    return verdict


@pytest.mark.parametrize("api", [True, False], ids=["referrers-api", "tag-schema"])
@pytest.mark.parametrize("media_type", [JWS, COSE])
async def test_a_signed_image_is_trusted_and_pinned(api: bool, media_type: str) -> None:
    pki = _pki()
    front = ReferrersFront(api=api)
    target = _publish(front)
    _attach(front, target, sign(pki, target=target, media_type=media_type), media_type)
    async with _validating(front, {"default": _pem(pki)}) as (host, built):
        image = parse_image(f"{host}/{REPO}:v1")
        verdict = await built.answer(image, RuleOptions())
        assert verdict == Trusted(target.digest)
        # Warm: answered from the caches, without a request.
        before = len(front.requests)
        assert built.answer_now(image, RuleOptions()) == verdict
        assert len(front.requests) == before
    # Cold: the image manifest, the list (the API and the tag at once: the API's list, or its
    # 404 and the tag's index), the signature manifest, the envelope: one request each.
    assert front.count("GET") == 5
    assert front.count("referrers") == front.count(referrers_tag(target.digest)) == 1


async def test_an_unsigned_image_is_denied() -> None:
    front = ReferrersFront()
    target = _publish(front)
    async with _validating(front, {"default": _pem(_pki())}) as (host, built):
        verdict = await _validate(built, f"{host}/{REPO}:v1")
    assert isinstance(verdict, Untrusted)
    assert f"no Notation signature for {target.digest}" in verdict.reason


async def test_a_foreign_signer_is_denied_naming_root_and_check() -> None:
    front = ReferrersFront()
    target = _publish(front)
    _attach(front, target, sign(_pki(name="Mallory"), target=target))
    async with _validating(front, {"default": _pem(_pki())}) as (host, built):
        verdict = await _validate(built, f"{host}/{REPO}@{target.digest}")
    assert isinstance(verdict, Untrusted)
    assert "default (untrusted_chain:" in verdict.reason
    assert target.digest in verdict.reason


async def test_a_signature_for_another_manifest_does_not_count() -> None:
    pki = _pki()
    front = ReferrersFront()
    target = _publish(front)
    other = _publish(front, tag="v2", seed="other")
    # An envelope over v2's manifest, attached to v1 (the referrer's subject is v1's).
    _attach(front, target, sign(pki, target=other))
    async with _validating(front, {"default": _pem(pki)}) as (host, built):
        verdict = await _validate(built, f"{host}/{REPO}:v1")
    assert isinstance(verdict, Untrusted)
    assert "digest_mismatch" in verdict.reason


async def test_a_learnt_404_reads_the_tag_alone_and_still_checks_every_referrer() -> None:
    pki = _pki()
    front = ReferrersFront(api=False)
    signed = _publish(front)
    _attach(front, signed, sign(pki, target=signed))
    other = _publish(front, tag="v2", seed="other")
    unsigned = _publish(front, tag="v3", seed="unsigned")
    # v2's tag lists v1's signature (its subject is v1), as anyone who can push may write.
    stolen = front.manifests[(REPO, referrers_tag(signed.digest))]
    front.manifests[(REPO, referrers_tag(other.digest))] = stolen
    async with _validating(front, {"default": _pem(pki)}) as (host, built):
        assert await _validate(built, f"{host}/{REPO}:v1") == Trusted(signed.digest)
        assert front.count("/referrers/") == 1  # the 404 beside v1's index: learnt
        foreign = await _validate(built, f"{host}/{REPO}:v2")
        missing = await _validate(built, f"{host}/{REPO}:v3")
    assert front.count("/referrers/") == 1  # v2 and v3: the tag alone
    assert isinstance(foreign, Untrusted)
    assert f"the referrer's subject is {signed.digest}" in foreign.reason
    assert missing == Untrusted(f"no Notation signature for {unsigned.digest} among its referrers")


async def test_a_listed_signature_of_another_image_does_not_count() -> None:
    pki = _pki()
    front = ReferrersFront()
    target = _publish(front)
    other = _publish(front, tag="v2", seed="other")
    signed_other = referrer_manifest(
        other.digest, sign(pki, target=other), artifact_type=NOTATION_TYPE, layer_media_type=JWS
    )
    front.manifests[(REPO, signed_other.digest)] = signed_other.manifest
    for blob in signed_other.blobs:
        front.put_blob(blob)
    # The list for v1 names v2's signature: its subject gives it away.
    front.referrers[(REPO, target.digest)] = [index_entry(signed_other.manifest)]
    async with _validating(front, {"default": _pem(pki)}) as (host, built):
        verdict = await _validate(built, f"{host}/{REPO}:v1")
    assert isinstance(verdict, Untrusted)
    assert f"not the image {target.digest}" in verdict.reason


async def test_two_roots_with_threshold() -> None:
    alice, bob = _pki(name="Alice"), _pki(name="Bob")
    front = ReferrersFront()
    target = _publish(front)
    _attach(front, target, sign(alice, target=target))
    roots = {"alice": _pem(alice), "bob": _pem(bob)}
    async with _validating(front, roots, {"trustRoot": "*"}) as (host, built):
        image = f"{host}/{REPO}:v1"
        verdict = await _validate(built, image, trust_root="*")
        assert isinstance(verdict, Untrusted)
        assert "threshold not reached: 1 of 2" in verdict.reason
        assert await _validate(built, image, trust_root="*", threshold=1) == Trusted(target.digest)
        _attach(front, target, sign(bob, target=target, media_type=COSE), COSE)
        # Findings are cached; a new rule (threshold 2, required bob) asks the same roots.
        assert await _validate(built, image, trust_root="bob") == Trusted(target.digest)


async def test_audit_admits_a_foreign_but_intact_signature() -> None:
    front = ReferrersFront()
    target = _publish(front)
    _attach(front, target, sign(_pki(name="Mallory"), target=target))
    async with _validating(front, {"default": _pem(_pki())}) as (host, built):
        image = f"{host}/{REPO}:v1"
        assert isinstance(await _validate(built, image), Untrusted)
        audited = await _validate(built, image, verification_level="audit")
    assert audited == Trusted(target.digest)


def _connaisseur_front() -> tuple[ReferrersFront, Path]:
    """Connaisseur's notation registry data, served as its Go mock does (tag schema only)."""
    folder = connaisseur_fixtures() / "notation"
    repository = folder / "registry" / "sse-secure-systems" / "testimage"
    front = ReferrersFront(api=False)
    name = "sse-secure-systems/testimage"
    for path in (repository / "manifests").glob("*.json"):
        front.manifests[(name, path.name.removesuffix(".json"))] = path.read_bytes()
    for path in (repository / "blobs").glob("*.json"):
        front.put_blob(path.read_bytes())
    return front, folder


@pytest.fixture
def needs_connaisseur_fixtures() -> None:
    connaisseur_fixtures()


@pytest.mark.usefixtures("needs_connaisseur_fixtures")
@pytest.mark.parametrize(
    ("root", "level", "trusted"),
    [
        ("default", "strict", True),
        ("default", "audit", True),
        ("different-cert", "strict", False),
    ],
)
async def test_connaisseur_notation_signature(root: str, level: str, trusted: bool) -> None:
    front, folder = _connaisseur_front()
    config = yaml.safe_load((folder / "validator_configs" / "07_selfsigned_cert.yaml").read_text())
    roots = {r["name"]: r["cert"] for r in config["trustRoots"]}
    digest = "sha256:a136cc4e785798e5e8483047cf621cf0a0300a93d47703a3f066c340c070f5cf"
    async with _validating(front, roots) as (host, built):
        verdict = await _validate(
            built,
            f"{host}/sse-secure-systems/testimage:notation-sign",
            trust_root=root,
            verification_level=level,
        )
    if trusted:
        assert verdict == Trusted(digest)
    else:
        assert isinstance(verdict, Untrusted)
        assert "different-cert (untrusted_chain:" in verdict.reason
    assert front.count(referrers_tag(digest)) == 1
