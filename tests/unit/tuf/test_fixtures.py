"""Full-chain verification of the real (and Connaisseur's synthetic) Notary trust data.

Expected digests and failures come from MANIFEST.md / cases.json; instants are the curator's
frozen times (real data is long expired). The synthetic Go sets carry stale ``length`` values
(MANIFEST caveat 4): by default kenner refuses them with ``length_mismatch``; with
``enforce_length=False`` they give Connaisseur's Go results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from kenner.tuf.delegations import verify_delegations
from kenner.tuf.digest import choose_digest
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.repository import verify_repository
from tests.unit.tuf.realdata import (
    ALICE_TIME,
    CHARLIE_KEY,
    CHARLIE_TIME,
    DEFAULT_KEY,
    GO_TEST_KEY,
    GO_TIME,
    PHBELITZ_TIME,
    SAMPLE_TIME,
    delegation_files,
    notary_dir,
    pinned,
    served,
    top_level,
)

ALICE = "sha256:ac904c9b191d14faf54b7952f2650a4bb21c201bf34131388b851e8ce992a652"
SIGN = "sha256:a154797b8300165956ee1f16d98f3a1426301c1168f0462c73ce9bc03361cabf"
V1 = "sha256:799c0fa8aa4c9fbff5a99aef1b4b5c3abb9c2f34134345005982fad3489893c7"
BOB = "sha256:4e061bcd4bb5a4cb24a196df59d723d911741d5520f89e34df8a792d56bdee3e"
CHARLIE_RELEASES = "sha256:a647a0f9c82dc5f3e7c4bd6483b496a49d570b4fdb1feacbfd57e965d2a1d662"

IMAGES = {  # image -> (pinned key, reference instant, enforce_length)
    "alice-image": (DEFAULT_KEY, ALICE_TIME, True),
    "sample-image": (DEFAULT_KEY, SAMPLE_TIME, True),
    "bob-image": (CHARLIE_KEY, CHARLIE_TIME, True),
    "charlie-image": (CHARLIE_KEY, CHARLIE_TIME, True),
    "never-expire-image": (GO_TEST_KEY, GO_TIME, False),
    "never-expire-with-delegations-image": (GO_TEST_KEY, GO_TIME, False),
    "never-expire-with-conflicting-delegations-image": (GO_TEST_KEY, GO_TIME, False),
    "edge-case-image": (GO_TEST_KEY, GO_TIME, False),
}


def decide(
    image: str,
    tag: str | None,
    digest: str | None = None,
    required: Sequence[str] = (),
    replace: Mapping[str, bytes] | None = None,
    key: str | None = None,
) -> str:
    default_key, now, enforce_length = IMAGES[image]
    files = {**top_level(image), **(replace or {})}
    repo = verify_repository(
        image, files, [pinned(key or default_key)], now, enforce_length=enforce_length
    )
    fetched = {**delegation_files(image, repo.roles_needed(required)), **(replace or {})}
    delegated = {role: raw for role, raw in fetched.items() if role.startswith("targets/")}
    trusted = verify_delegations(repo, delegated, now)
    return choose_digest(trusted, tag, digest, required)


def denial(*args: object, **kwargs: object) -> TrustError:
    with pytest.raises(TrustError) as caught:
        decide(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


ALLOWED = [
    ("alice-image", "test", None, (), ALICE),
    ("alice-image", "test", None, ("targets/phbelitz", "targets/chamsen"), ALICE),
    ("alice-image", None, ALICE, ("targets/phbelitz", "targets/chamsen"), ALICE),
    ("alice-image", "test", ALICE, (), ALICE),
    ("sample-image", "sign", None, (), SIGN),
    ("sample-image", "v1", None, (), V1),
    ("bob-image", "test", None, (), BOB),
    # Delegations exist, none required: targets/releases wins over targets.json's own entry.
    ("charlie-image", "test", None, (), CHARLIE_RELEASES),
    ("never-expire-image", "sign", None, (), SIGN),
    ("never-expire-image", "v1", None, (), V1),
    ("never-expire-with-delegations-image", "sign", None, ("targets/del1",), SIGN),
    ("never-expire-with-delegations-image", None, SIGN, ("targets/del1",), SIGN),
    ("never-expire-with-delegations-image", "sign", SIGN, ("targets/del1",), SIGN),
    # releases declared but never published: targets.json decides.
    ("edge-case-image", "sign", None, (), SIGN),
]


@pytest.mark.parametrize(("image", "tag", "digest", "required", "expected"), ALLOWED)
def test_signed_references_resolve_to_the_signed_digest(
    image: str, tag: str | None, digest: str | None, required: tuple[str, ...], expected: str
) -> None:
    assert decide(image, tag, digest, required) == expected


OTHER = "sha256:" + "13" * 32
DENIED = [
    ("alice-image", "missingtag", None, (), Reason.TAG_NOT_SIGNED, "targets/releases"),
    ("alice-image", "test", OTHER, (), Reason.DIGEST_NOT_SIGNED, "targets/releases"),
    ("alice-image", "test", "sha256:1333337", (), Reason.MALFORMED, "targets"),
    ("alice-image", "test", None, ("targets/del2",), Reason.DELEGATION_NOT_SIGNED, "targets/del2"),
    ("sample-image", "no_tag", None, (), Reason.TAG_NOT_SIGNED, "targets"),
    (
        "sample-image",
        None,
        "sha256:aaaaaaab8300165956ee1f16d98f3a1426301c1168f0462c73ce9bc03361cabf",
        (),
        Reason.DIGEST_NOT_SIGNED,
        "targets",
    ),
    (
        "charlie-image",
        "test2",
        None,
        ("targets/del1",),
        Reason.DELEGATION_NOT_SIGNED,
        "targets/del1",
    ),
    (
        "never-expire-with-delegations-image",
        "sign",
        None,
        ("targets/del1", "targets/del2"),
        Reason.DELEGATION_NOT_SIGNED,
        "targets/del2",
    ),
    (
        "never-expire-with-delegations-image",
        "v1",
        SIGN,
        ("targets/del2",),
        Reason.DIGEST_NOT_SIGNED,
        "targets/del2",
    ),
    (
        "never-expire-with-delegations-image",
        "sign",
        None,
        ("targets/delll",),
        Reason.DELEGATION_NOT_SIGNED,
        "targets/delll",
    ),
    (
        "never-expire-with-conflicting-delegations-image",
        "sign",
        None,
        ("targets/del1", "targets/del2"),
        Reason.AMBIGUOUS_DIGEST,
        "targets/del1, targets/del2",
    ),
    (
        "edge-case-image",
        "sign",
        None,
        ("targets/del1",),
        Reason.DELEGATION_NOT_SIGNED,
        "targets/del1",
    ),
]


@pytest.mark.parametrize(("image", "tag", "digest", "required", "reason", "role"), DENIED)
def test_unsigned_references_are_denied_with_the_policy_reason(
    image: str,
    tag: str | None,
    digest: str | None,
    required: tuple[str, ...],
    reason: Reason,
    role: str,
) -> None:
    error = denial(image, tag, digest, required)
    assert (error.reason, error.role) == (reason, role)


def go_negative(name: str) -> bytes:
    return served(notary_dir() / "go-negative" / name)


def test_expired_root_is_denied_even_when_validly_signed() -> None:
    error = denial(
        "never-expire-image", "sign", replace={"root": go_negative("01_expired_root.json")}
    )
    assert (error.reason, error.role) == (Reason.EXPIRED, "root")
    assert "1990-01-01T14:12:13.219265+02:00" in error.message


def test_root_without_signatures_is_not_trusted() -> None:
    error = denial(
        "never-expire-image", "sign", replace={"root": go_negative("06_no_signature_root.json")}
    )
    assert (error.reason, error.role) == (Reason.ROOT_KEY_MISMATCH, "root")


def test_substituted_targets_and_delegation_files_break_the_snapshot_binding() -> None:
    # Connaisseur's Go tests substitute these forged files; snapshot pins their hashes first.
    error = denial(
        "never-expire-image",
        "sign",
        replace={"targets": go_negative("02_invalid_signature_targets.json")},
    )
    assert (error.reason, error.role) == (Reason.HASH_MISMATCH, "targets")
    error = denial(
        "never-expire-with-delegations-image",
        "sign",
        required=("targets/del1",),
        replace={"targets/del1": go_negative("04_invalid_signature_delegation.json")},
    )
    assert (error.reason, error.role) == (Reason.HASH_MISMATCH, "targets/del1")


def test_root_pinned_to_another_key_is_a_root_key_mismatch() -> None:
    error = denial("alice-image", "test", key=CHARLIE_KEY)
    assert (error.reason, error.role) == (Reason.ROOT_KEY_MISMATCH, "root")


def test_synthetic_sets_have_stale_lengths_that_strict_mode_refuses() -> None:
    files = top_level("never-expire-image")
    with pytest.raises(TrustError) as caught:
        verify_repository("never-expire-image", files, [pinned(GO_TEST_KEY)], GO_TIME)
    assert (caught.value.reason, caught.value.role) == (Reason.LENGTH_MISMATCH, "root")
    assert "root is 2540 bytes, snapshot records 2420" in caught.value.message


def test_real_data_is_expired_at_the_real_clock() -> None:
    with pytest.raises(TrustError) as caught:
        verify_repository(
            "alice",
            top_level("alice-image"),
            [pinned(DEFAULT_KEY)],
            datetime(2025, 1, 1, tzinfo=UTC),
        )
    assert (caught.value.reason, caught.value.role) == (Reason.EXPIRED, "timestamp")


def test_verified_repository_reports_versions_expiry_and_round_two_roles() -> None:
    repo = verify_repository("alice", top_level("alice-image"), [pinned(DEFAULT_KEY)], ALICE_TIME)
    assert repo.versions == {"root": 1, "timestamp": 4, "snapshot": 3, "targets": 3}
    assert repo.expires == datetime(2019, 10, 24, 9, 43, 18, 580935, tzinfo=UTC)
    assert [d.name for d in repo.declared_delegations] == [
        "targets/phbelitz",
        "targets/releases",
        "targets/chamsen",
    ]
    assert repo.roles_needed(()) == ("targets/releases",)
    assert repo.roles_needed(("targets/chamsen", "targets/nobody")) == ("targets/chamsen",)
    trusted = verify_delegations(
        repo, delegation_files("alice-image", ("targets/releases",)), ALICE_TIME
    )
    assert trusted.versions["targets/releases"] == 1
    assert set(trusted.delegated) == {"targets/releases"}


PHBELITZ = {
    "root": "sample_root",
    "timestamp": "sample_timestamp",
    "snapshot": "sample_snapshot",
    "targets": "sample_targets",
}


def phbelitz_files() -> dict[str, bytes]:
    folder = notary_dir() / "phbelitz-sample"
    return {role: served(folder / f"{name}.json") for role, name in PHBELITZ.items()}


def test_flat_phbelitz_sample_with_releases() -> None:
    repo = verify_repository(
        "phbelitz/sample", phbelitz_files(), [pinned(DEFAULT_KEY)], PHBELITZ_TIME
    )
    releases = served(notary_dir() / "phbelitz-sample" / "sample_releases.json")
    trusted = verify_delegations(repo, {"targets/releases": releases}, PHBELITZ_TIME)
    assert choose_digest(trusted, "v1", None, ()) == (
        "sha256:1388abc7a12532836c3a81bdb0087409b15208f5aeba7a87aedcfd56d637c145"
    )
    assert choose_digest(trusted, "v2", None, ()) == (
        "sha256:b8a38522876a9e2550d582ce51a1d87ebdc6c570e5e585d08560bfd646f7f804"
    )
    with pytest.raises(TrustError) as caught:
        choose_digest(trusted, "v3", None, ())
    assert caught.value.reason is Reason.TAG_NOT_SIGNED
    # phbelitz is listed in snapshot.json, so a 404 for it is withheld data, not absence.
    with pytest.raises(TrustError) as caught:
        verify_delegations(repo, {"targets/phbelitz": None}, PHBELITZ_TIME)
    assert (caught.value.reason, caught.value.role) == (Reason.NO_TRUST_DATA, "targets/phbelitz")


@pytest.mark.parametrize(
    ("root_file", "reason"),
    [
        ("wrong-signature/wrong_signature.json", Reason.BAD_SIGNATURE),
        ("malformed/missing_keys_root.json", Reason.MALFORMED),
    ],
)
def test_broken_roots_of_phbelitz_sample(root_file: str, reason: Reason) -> None:
    files = {**phbelitz_files(), "root": served(notary_dir() / root_file)}
    with pytest.raises(TrustError) as caught:
        verify_repository("phbelitz/sample", files, [pinned(DEFAULT_KEY)], PHBELITZ_TIME)
    assert (caught.value.reason, caught.value.role) == (reason, "root")


def test_role_files_under_the_wrong_names_are_malformed() -> None:
    folder = notary_dir() / "err-image"
    files = {role: served(folder / f"{role}.json") for role in PHBELITZ}
    with pytest.raises(TrustError) as caught:
        verify_repository("err-image", files, [pinned(DEFAULT_KEY)], ALICE_TIME)
    assert (caught.value.reason, caught.value.role) == (Reason.MALFORMED, "root")
    assert "_type is 'Snapshot'" in caught.value.message
    invalid = (folder / "invalid.json").read_bytes()
    with pytest.raises(TrustError) as caught:
        verify_repository(
            "err-image",
            {**top_level("alice-image"), "timestamp": invalid},
            [pinned(DEFAULT_KEY)],
            ALICE_TIME,
        )
    assert (caught.value.reason, caught.value.role) == (Reason.MALFORMED, "timestamp")


def test_missing_root_means_no_trust_data() -> None:
    files = top_level("sample-image")
    del files["root"]
    with pytest.raises(TrustError) as caught:
        verify_repository("unsigned", files, [pinned(DEFAULT_KEY)], SAMPLE_TIME)
    assert (caught.value.reason, caught.value.role) == (Reason.NO_TRUST_DATA, "root")
