"""Whether verified statements satisfy ``with.attestations`` entries, and what a denial says."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kenner.attest.judge import Verified, unmet
from kenner.attest.policy import AttestationRule, parse_condition
from kenner.attest.statement import parse_statement
from kenner.cosign.threshold import requirement
from kenner.oci.manifest import digest_of
from tests.support.attestations import SLSA_V1, statement

DIGEST = digest_of(b"the image")
OTHER = digest_of(b"another image")
NOW = datetime(2026, 12, 4, 7, tzinfo=UTC)
ROOTS = ("ci", "scanner", "release")
BUILDER = {"runDetails": {"builder": {"id": "https://github.com/my-org/build@refs/heads/main"}}}
POLICY = (
    parse_condition(
        {"path": "/predicate/runDetails/builder/id", "prefix": "https://github.com/my-org/"}
    ),
)


def _rule(trust_root: str = "ci", threshold: int | None = None) -> AttestationRule:
    return AttestationRule(SLSA_V1, trust_root, POLICY, threshold)


def _verified(
    root: str, digest: str = DIGEST, predicate: Mapping[str, Any] = BUILDER, kind: str = SLSA_V1
) -> Verified:
    return Verified(root, parse_statement(statement(digest, predicate, kind)))


def _unmet(
    rule: AttestationRule, verified: list[Verified], rejections: dict[str, str] | None = None
) -> str | None:
    need = requirement(ROOTS, rule.trust_root, rule.threshold, ())
    return unmet(rule, need, DIGEST, verified, rejections or {}, NOW)


def test_a_matching_attestation_by_the_named_root_satisfies() -> None:
    assert _unmet(_rule(), [_verified("ci")]) is None


def test_the_denial_names_the_predicate_type_and_the_first_failed_condition() -> None:
    evil = {"runDetails": {"builder": {"id": "https://github.com/evil/build"}}}
    assert _unmet(_rule(), [_verified("ci", predicate=evil)]) == (
        "attestation 'https://slsa.dev/provenance/v1': threshold not reached: 0 of 1 required "
        "trust roots signed (signed: none; not: ci (policy: /predicate/runDetails/builder/id "
        "prefix 'https://github.com/my-org/': got 'https://github.com/evil/build'))"
    )


def test_one_satisfying_statement_among_failing_ones_is_enough() -> None:
    evil = {"runDetails": {"builder": {"id": "https://github.com/evil/build"}}}
    assert _unmet(_rule(), [_verified("ci", predicate=evil), _verified("ci")]) is None


def test_another_root_another_type_or_another_subject_does_not_count() -> None:
    assert "ci (no attestation of this predicate type)" in str(
        _unmet(_rule(), [_verified("scanner")])
    )
    other_type = _verified("ci", kind="https://cosign.sigstore.dev/attestation/vuln/v1")
    assert "ci (no attestation of this predicate type)" in str(_unmet(_rule(), [other_type]))
    assert f"ci (its statement's subject is not {DIGEST})" in str(
        _unmet(_rule(), [_verified("ci", digest=OTHER)])
    )


def test_rejections_explain_roots_without_a_verified_statement() -> None:
    reason = _unmet(_rule(), [], {"ci": "bad_signature: the envelope does not verify with the key"})
    assert reason is not None
    assert reason.endswith("not: ci (bad_signature: the envelope does not verify with the key))")


def test_star_and_threshold_count_distinct_roots() -> None:
    everyone = [_verified(root) for root in ROOTS]
    assert _unmet(_rule("*"), everyone) is None
    assert "2 of 3" in str(_unmet(_rule("*"), everyone[:2]))
    assert _unmet(_rule("*", 2), everyone[:2]) is None
    # One root's two statements are one signer.
    assert "1 of 2" in str(_unmet(_rule("*", 2), [_verified("ci"), _verified("ci")]))
