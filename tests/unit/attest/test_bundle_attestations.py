"""DSSE bundles as attestations (``kenner.attest.bundles``), with the project's own Sigstore."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kenner.attest.bundles import bundle_attestations
from kenner.cosign.fulcio import IdentityPolicy
from kenner.sigstore.identity import parse_extension_checks
from kenner.sigstore.roots import BundleRoot, Expected
from kenner.sigstore.trustroot import parse_trusted_root
from tests.support.sigstore_sim import IDENTITY, ISSUER, Ca, Log, Signing, cosign_v3_bundle
from tests.support.sigstore_sim import trusted_root as make_trusted_root

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
CI = BundleRoot("ci", identity=IdentityPolicy(issuer=ISSUER, subject=IDENTITY))
OPS = BundleRoot("ops", identity=IdentityPolicy(issuer=ISSUER, subject="ops@example.test"))


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca()


def _bundle(signing: Signing) -> bytes:
    return json.dumps(cosign_v3_bundle(signing)).encode()


def test_keyless_and_key_bundles_yield_their_statements_per_root(ca: Ca) -> None:
    log = Log()
    key = ec.generate_private_key(ec.SECP256R1())
    release = BundleRoot("release", key=key.public_key())
    bundles = [
        _bundle(Signing(DIGEST, ca, log)),
        _bundle(Signing(DIGEST, ca, log, key=key, keyed=True)),
    ]
    verified, problems = bundle_attestations(
        bundles,
        [CI, OPS, release],
        parse_trusted_root(json.dumps(make_trusted_root(ca, log))),
        Expected(DIGEST),
    )
    assert sorted(item.root for item in verified) == ["ci", "release"]
    assert all(item.statement.names(DIGEST) for item in verified)
    assert problems.keys() == {"ops"}
    assert problems["ops"].startswith("bundle 1: ")


def test_bundles_about_another_image_or_unreadable_count_for_no_one(ca: Ca) -> None:
    log = Log()
    trusted = parse_trusted_root(json.dumps(make_trusted_root(ca, log)))
    stolen = _bundle(Signing(DIGEST, ca, log, subject_digest=OTHER))
    verified, problems = bundle_attestations([b"{", stolen], [CI], trusted, Expected(DIGEST))
    assert verified == ()
    assert problems["ci"].startswith("bundle 1: ")  # the first problem is kept


def test_the_rules_certificate_extensions_bind_keyless_attestations(ca: Ca) -> None:
    log = Log()
    trusted = parse_trusted_root(json.dumps(make_trusted_root(ca, log)))
    bundle = _bundle(Signing(DIGEST, ca, log))  # its certificate names my-org/app

    def pinned(repository: str) -> Expected:
        return Expected(DIGEST, parse_extension_checks({"githubWorkflowRepository": repository}))

    verified, problems = bundle_attestations([bundle], [CI], trusted, pinned("my-org/app"))
    assert [item.root for item in verified] == ["ci"]
    verified, problems = bundle_attestations([bundle], [CI], trusted, pinned("other-org/app"))
    assert verified == ()
    assert "githubWorkflowRepository" in problems["ci"]
