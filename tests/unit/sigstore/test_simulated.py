"""Bundles signed here the way cosign v3 signs an image, and the negatives the issue lists:
tampered payload, wrong subject digest, certificate outside its validity at the verified time,
bad inclusion proof, checkpoint signed by an unknown log; every trusted-root entry honoured
only within its window (CT logs at the SCT's time, Fulcio CAs, Rekor logs and TSAs at the
verified time); a checkpoint's origin and key name must be the log's; plus the Merkle proofs
against the RFC 6962 reference tree."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.cosign.fulcio import IdentityPolicy
from kenner.sigstore.bundle import parse_bundle
from kenner.sigstore.errors import BundleError, TrustRootError
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
    CtLog,
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
    bundle: dict[str, object],
    ca: Ca,
    log: Log,
    digest: str = DIGEST,
    tsa: Tsa | None = None,
    **root: Any,
) -> Verified:
    """Verify ``bundle`` against ``trusted_root(ca, log, tsa, **root)``."""
    return verify_bundle(
        parse_bundle(json.dumps(bundle)),
        parse_trusted_root(json.dumps(trusted_root(ca, log, tsa, **root))),
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


# --- Windows: each trusted-root entry counts only within its validFor ---

DAY = timedelta(days=1)


def _with_sct(ca: Ca, log: Log, ct_log: CtLog, logged: datetime = SIGNED_AT) -> Signing:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signing(DIGEST, ca, log, key=key, certificate=ca.leaf(key, scts=[(ct_log, logged)]))


def test_an_sct_of_a_ct_log_within_its_window_verifies(ca: Ca) -> None:
    log, ct_log = Log(), CtLog()
    bundle = cosign_v3_bundle(_with_sct(ca, log, ct_log))
    # The window's ends are inclusive, as sigstore-go reads them.
    exact = [(ct_log, (SIGNED_AT, SIGNED_AT))]
    assert _verify(bundle, ca, log, ct_logs=exact).times == (SIGNED_AT,)


@pytest.mark.parametrize(
    ("window", "shown"),
    [
        ((SIGNED_AT + DAY, None), "validity 2026-03-02T12:00:00+00:00 to open"),
        ((SIGNED_AT - 2 * DAY, SIGNED_AT - DAY), "to 2026-02-28T12:00:00+00:00"),
    ],
)
def test_an_sct_of_a_ct_log_outside_its_window_fails(
    ca: Ca, window: tuple[datetime, datetime | None], shown: str
) -> None:
    log, ct_log = Log(), CtLog()
    bundle = cosign_v3_bundle(_with_sct(ca, log, ct_log))
    with pytest.raises(BundleError) as info:
        _verify(bundle, ca, log, ct_logs=[(ct_log, window)])
    message = str(info.value)
    assert message.startswith("no SCT of a trusted CT log verifies: CT log validity check: ")
    assert "the SCT of https://ct0.test is dated 2026-03-01T12:00:00+00:00" in message
    assert shown in message


def test_the_sct_time_not_the_signing_time_is_checked_against_the_window(ca: Ca) -> None:
    # The certificate is valid and signed at SIGNED_AT; its SCT is dated a minute earlier,
    # before the CT log's window opens: the SCT does not count.
    log, ct_log = Log(), CtLog()
    early = _with_sct(ca, log, ct_log, logged=SIGNED_AT - timedelta(seconds=30))
    with pytest.raises(BundleError, match="CT log validity check"):
        _verify(cosign_v3_bundle(early), ca, log, ct_logs=[(ct_log, (SIGNED_AT, None))])


def test_one_ct_log_listed_twice_counts_in_either_window(ca: Ca) -> None:
    # A key re-listed after a gap (two entries, one log id): the SCT needs one window only.
    log, ct_log = Log(), CtLog()
    bundle = cosign_v3_bundle(_with_sct(ca, log, ct_log))
    windows = [(ct_log, (SIGNED_AT - 2 * DAY, SIGNED_AT - DAY)), (ct_log, (SIGNED_AT, None))]
    assert _verify(bundle, ca, log, ct_logs=windows).certificate is not None


def test_an_sct_of_another_ct_log_fails_naming_the_trusted_ones(ca: Ca) -> None:
    log, ct_log = Log(), CtLog()
    bundle = cosign_v3_bundle(_with_sct(ca, log, CtLog()))
    with pytest.raises(BundleError, match=r"another CT log .*, not from https://ct0\.test"):
        _verify(bundle, ca, log, ct_logs=[(ct_log, (SIGNED_AT - DAY, None))])


def test_a_fulcio_ca_outside_its_window_at_the_verified_time_fails(ca: Ca) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    with pytest.raises(BundleError) as info:
        _verify(bundle, ca, log, ca_window=(SIGNED_AT - 2 * DAY, SIGNED_AT - DAY))
    assert str(info.value) == (
        "Fulcio CA validity check: no Fulcio CA of the trusted root is valid at the verified "
        "time 2026-03-01T12:00:00+00:00"
    )
    assert _verify(bundle, ca, log, ca_window=(SIGNED_AT, SIGNED_AT)).times == (SIGNED_AT,)


def test_a_rekor_log_outside_its_window_at_the_integration_time_fails(ca: Ca) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    with pytest.raises(BundleError, match=r"the log https://rekor\.test was not trusted at 2026"):
        _verify(bundle, ca, log, log_window=(SIGNED_AT + DAY, None))


def test_a_rekor_v2_log_outside_its_window_at_the_timestamp_fails(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log, rekor_v2=True, tsa=tsa))
    with pytest.raises(BundleError, match="was not trusted at 2026-03-01T12:00:00"):
        _verify(bundle, ca, log, tsa=tsa, log_window=(SIGNED_AT - 2 * DAY, SIGNED_AT - DAY))


def test_a_tsa_outside_its_window_gives_no_verified_time(ca: Ca, tsa: Tsa) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log, rekor_v2=True, tsa=tsa))
    with pytest.raises(BundleError, match="no verified time for the log entry"):
        _verify(bundle, ca, log, tsa=tsa, tsa_window=(SIGNED_AT + DAY, None))
    assert _verify(bundle, ca, log, tsa=tsa, tsa_window=(SIGNED_AT, SIGNED_AT)).times


# --- The checkpoint's origin and key name ---


@pytest.mark.parametrize(
    ("origin", "base_url"),
    [
        ("rekor.test - 1193050959916656506", "https://rekor.test"),  # Rekor v1
        ("rekor.test", "https://rekor.test/"),  # Rekor v2 (rekor-tiles): the host
        ("localhost:8000 - 7", "http://localhost:8000"),  # Rekor v1 behind a port
        ("example.test/log42", "https://example.test/log42"),  # C2SP: a scheme-less URL
        ("Rekor.Test - 1", "rekor.test"),  # host names are case-insensitive
    ],
)
def test_a_checkpoint_naming_the_log_verifies(ca: Ca, origin: str, base_url: str) -> None:
    log = Log(origin)
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    assert _verify(bundle, ca, log, base_url=base_url).times == (SIGNED_AT,)


@pytest.mark.parametrize(
    "origin", ["rekor.evil - 1", "rekor.test.evil", "rekor.test - 1 - x", "evil/rekor.test"]
)
def test_a_checkpoint_with_another_origin_signed_by_the_log_key_fails(ca: Ca, origin: str) -> None:
    log = Log(origin)
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    with pytest.raises(BundleError) as info:
        _verify(bundle, ca, log)
    assert str(info.value) == (
        f"checkpoint origin check: {origin!r} does not name the log https://rekor.test "
        "('rekor.test')"
    )


def test_the_log_signature_must_be_under_the_origin_name(ca: Ca) -> None:
    log = Log("rekor.test - 1", key_name="witness.test")
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    with pytest.raises(BundleError) as info:
        _verify(bundle, ca, log)
    assert str(info.value) == (
        "checkpoint key name check: the signature of the log https://rekor.test is under the "
        "name 'witness.test', not the origin's 'rekor.test'"
    )


def test_without_a_base_url_only_the_key_name_is_compared_with_the_origin(ca: Ca) -> None:
    # host.rekorPubkey (no baseUrl): any origin, but the log signs under the origin's name.
    log = Log("some-rekor-pod - 3")
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log))
    assert _verify(bundle, ca, log, base_url=None).times == (SIGNED_AT,)
    renamed = Log("some-rekor-pod - 3", key_name="rekor.test")
    with pytest.raises(BundleError, match="checkpoint key name check"):
        _verify(cosign_v3_bundle(Signing(DIGEST, ca, renamed)), ca, renamed, base_url=None)


def test_a_failing_signature_under_the_log_name_and_key_id_fails(ca: Ca) -> None:
    log = Log()
    bundle = cosign_v3_bundle(Signing(DIGEST, ca, log), forged_cosignature=True)
    with pytest.raises(BundleError, match="checkpoint's signature does not verify with the key"):
        _verify(bundle, ca, log)


@pytest.mark.parametrize("base_url", ["https://", "http:///path", "https://[::1"])
def test_a_rekor_log_base_url_without_host_is_refused(ca: Ca, base_url: str) -> None:
    document = trusted_root(ca, Log(), base_url=base_url)
    with pytest.raises(TrustRootError, match=r"tlogs\[0\]\.baseUrl .* names no host"):
        parse_trusted_root(json.dumps(document))


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
