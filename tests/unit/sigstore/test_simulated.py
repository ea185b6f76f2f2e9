"""Bundles signed here the way cosign v3 signs an image, and the negatives the issue lists:
tampered payload, wrong subject digest, certificate outside its validity at the verified time,
bad inclusion proof, checkpoint signed by an unknown log; plus the Merkle proofs against the
RFC 6962 reference tree."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.cosign.fulcio import IdentityPolicy
from kenner.sigstore.bundle import parse_bundle
from kenner.sigstore.errors import BundleError
from kenner.sigstore.identity import identity_problem, parse_extension_checks
from kenner.sigstore.merkle import leaf_hash, root_from_proof
from kenner.sigstore.trustroot import parse_trusted_root
from kenner.sigstore.tsa import check_timestamp
from kenner.sigstore.verify import Verified, verify_bundle
from tests.support.sigstore_sim import (
    IDENTITY,
    ISSUER,
    SIGNED_AT,
    Ca,
    Log,
    Signing,
    cosign_v3_bundle,
    trusted_root,
)
from tests.support.tsa import Tsa, make_tsa

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca()


def _verify(
    bundle: dict[str, object], ca: Ca, log: Log, digest: str = DIGEST, tsa: Tsa | None = None
) -> Verified:
    return verify_bundle(
        parse_bundle(json.dumps(bundle)),
        parse_trusted_root(json.dumps(trusted_root(ca, log, tsa))),
        artifact_digest=digest,
        check_timestamp=check_timestamp,
    )


def test_a_cosign_v3_bundle_verifies_and_names_its_signer(ca: Ca) -> None:
    log = Log()
    verified = _verify(cosign_v3_bundle(Signing(DIGEST, ca, log)), ca, log)
    assert verified.times == (SIGNED_AT,)
    assert verified.statement is not None
    assert verified.certificate is not None
    policy = IdentityPolicy(issuer=ISSUER, subject=IDENTITY)
    assert identity_problem(verified.certificate, policy, ()) is None
    checks = parse_extension_checks({"githubWorkflowRepository": "my-org/app"})
    assert identity_problem(verified.certificate, policy, checks) is None


def test_extension_regexes_are_anchored(ca: Ca) -> None:
    log = Log()
    verified = _verify(cosign_v3_bundle(Signing(DIGEST, ca, log)), ca, log)
    assert verified.certificate is not None
    policy = IdentityPolicy()
    partial = parse_extension_checks({"githubWorkflowRepositoryRegex": "my-org/ap"})
    problem = identity_problem(verified.certificate, policy, partial)
    assert problem == (
        "certificate extension githubWorkflowRepository is 'my-org/app', not matching 'my-org/ap'"
    )
    absent = parse_extension_checks({"buildTrigger": "push"})
    assert "buildTrigger is absent" in str(identity_problem(verified.certificate, policy, absent))
    with pytest.raises(ValueError, match="unknown certificate extension 'nope'"):
        parse_extension_checks({"nope": "x"})


def test_a_tampered_payload_fails(ca: Ca) -> None:
    log = Log()
    signing = Signing(DIGEST, ca, log)
    tampered = signing.statement().replace(b"predicate", b"predicatX")
    with pytest.raises(BundleError, match="another DSSE payload"):
        _verify(cosign_v3_bundle(signing, payload=tampered), ca, log)


def test_a_statement_about_another_image_fails(ca: Ca) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log, subject_digest=OTHER))
    with pytest.raises(BundleError, match=f"the in-toto statement is not about {DIGEST}"):
        _verify(bundle, ca, log)


def test_a_certificate_outside_its_validity_at_the_verified_time_fails(ca: Ca) -> None:
    log = Log()
    late = Signing(DIGEST, ca, log, integrated_time=SIGNED_AT + timedelta(minutes=30))
    with pytest.raises(BundleError, match="not at the verified time 2026-03-01T12:30:00"):
        _verify(cosign_v3_bundle(late), ca, log)


def test_a_bad_inclusion_proof_fails(ca: Ca) -> None:
    log = Log()
    with pytest.raises(BundleError, match="does not lead to the checkpoint's root hash"):
        _verify(cosign_v3_bundle(Signing(DIGEST, ca, log), proof_hash=True), ca, log)


def test_a_checkpoint_signed_by_an_unknown_log_fails(ca: Ca) -> None:
    log, stranger = Log(), Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log), checkpoint_signer=stranger.key)
    with pytest.raises(BundleError, match=r"no signature of the log https://rekor\.test"):
        _verify(bundle, ca, log)


def test_an_entry_of_an_untrusted_log_fails(ca: Ca) -> None:
    log, trusted = Log(), Log()
    with pytest.raises(BundleError, match="a log the trusted root does not know"):
        _verify(cosign_v3_bundle(Signing(DIGEST, ca, log)), ca, trusted)


def test_a_certificate_of_another_ca_fails(ca: Ca) -> None:
    log = Log()
    with pytest.raises(BundleError, match="does not chain to a configured Fulcio certificate"):
        _verify(cosign_v3_bundle(Signing(DIGEST, Ca(), log)), ca, log)


def test_the_bundle_is_checked_for_the_image_asked_about(ca: Ca) -> None:
    log = Log()
    with pytest.raises(BundleError, match=f"not about {OTHER}"):
        _verify(cosign_v3_bundle(Signing(DIGEST, ca, log)), ca, log, digest=OTHER)


@pytest.fixture(scope="module")
def tsa() -> Tsa:
    return make_tsa()


def test_a_rekor_v2_bundle_verifies_by_its_proof_and_timestamp(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log, rekor_v2=True, tsa=tsa))
    assert _verify(bundle, ca, log, tsa=tsa).times == (SIGNED_AT,)


def test_a_rekor_v2_bundle_needs_a_trusted_timestamp(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    unstamped = cosign_v3_bundle(Signing(DIGEST, ca, log, rekor_v2=True))
    with pytest.raises(BundleError, match="no verified time for the log entry"):
        _verify(unstamped, ca, log, tsa=tsa)
    stranger = cosign_v3_bundle(Signing(DIGEST, ca, log, rekor_v2=True, tsa=make_tsa()))
    with pytest.raises(BundleError, match="no verified time for the log entry"):
        _verify(stranger, ca, log, tsa=tsa)


def test_a_timestamp_outside_the_certificate_validity_fails(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    late = Signing(
        DIGEST, ca, log, rekor_v2=True, tsa=tsa, stamped_at=SIGNED_AT + timedelta(hours=1)
    )
    with pytest.raises(BundleError, match="not at the verified time 2026-03-01T13:00:00"):
        _verify(cosign_v3_bundle(late), ca, log, tsa=tsa)


def test_a_rekor_v1_bundle_is_checked_at_every_verified_time(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    both = Signing(DIGEST, ca, log, tsa=tsa)
    assert _verify(cosign_v3_bundle(both), ca, log, tsa=tsa).times == (SIGNED_AT,)
    late_stamp = Signing(DIGEST, ca, log, tsa=tsa, stamped_at=SIGNED_AT + timedelta(hours=1))
    with pytest.raises(BundleError, match="not at the verified time"):
        _verify(cosign_v3_bundle(late_stamp), ca, log, tsa=tsa)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_merkle_proofs_of_the_reference_tree_verify_and_others_do_not(
    size: int, data: st.DataObject
) -> None:
    log = Log()
    for number in range(size):
        log.append(b"leaf %d" % number)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = log.proof(index, size)
    leaf = leaf_hash(log.leaves[index])
    assert root_from_proof(index, size, leaf, path) == log.root(size)
    if path:
        spoiled = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
        assert root_from_proof(index, size, leaf, spoiled) != log.root(size)
        with pytest.raises(BundleError, match="longer than the tree"):
            root_from_proof(index, size, leaf, [*path, path[0]])
        with pytest.raises(BundleError, match="shorter than the tree"):
            root_from_proof(index, size, leaf, path[:-1])
