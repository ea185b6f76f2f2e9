"""Round 2 and the digest decision on generated repositories shaped like the test bed's
scenarios (``signed``, ``moved-tag``, ``delegated``, ``delegation-unused``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kenner.tuf.delegations import TrustedTargets, verify_delegations
from kenner.tuf.digest import choose_digest
from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.repository import verify_repository
from tests.unit.tuf.builder import RepositoryBuilder, generate_key

NOW = datetime(2030, 6, 1, tzinfo=UTC)
ALICE, RELEASES, BOTH = (
    ("targets/alice",),
    ("targets/releases",),
    ("targets/alice", "targets/releases"),
)


def trusted(builder: RepositoryBuilder, required: tuple[str, ...] = ()) -> TrustedTargets:
    built = builder.build()
    repo = verify_repository(builder.gun, built.files, [builder.root_key.public_key], NOW)
    fetched = {role: built.delegations.get(role) for role in repo.roles_needed(required)}
    return verify_delegations(repo, fetched, NOW)


def decide(
    builder: RepositoryBuilder,
    tag: str | None,
    digest: str | None = None,
    required: tuple[str, ...] = (),
) -> str:
    return choose_digest(trusted(builder, required), tag, digest, required)


def test_signed_scenario() -> None:
    builder = RepositoryBuilder()
    v1 = builder.add_target("v1", b"schema 2 manifest")
    v2 = builder.add_target("v2", b"oci manifest")
    assert decide(builder, "v1") == v1
    assert decide(builder, "v2") == v2
    assert decide(builder, None, v1) == v1
    assert decide(builder, "v1", v1.upper().replace("SHA256", "sha256")) == v1
    with pytest.raises(TrustError) as caught:
        decide(builder, "unsigned-tag")
    assert (caught.value.reason, caught.value.role) == (Reason.TAG_NOT_SIGNED, "targets")


def test_moved_tag_scenario_pins_the_signed_digest() -> None:
    builder = RepositoryBuilder()
    signed = builder.add_target("v1", b"image A")
    moved_to = "sha256:" + "b" * 64
    assert decide(builder, "v1") == signed
    with pytest.raises(TrustError) as caught:
        decide(builder, None, moved_to)
    assert caught.value.reason is Reason.DIGEST_NOT_SIGNED


@pytest.fixture(scope="module")
def delegated() -> tuple[RepositoryBuilder, dict[str, str]]:
    builder = RepositoryBuilder()
    builder.delegate("targets/releases", [generate_key("ecdsa")])
    builder.delegate("targets/alice", [generate_key("ecdsa-x509")])
    digests = {}
    for tag, roles in {"both": BOTH, "releases-only": RELEASES, "alice-only": ALICE}.items():
        for role in roles:
            digests[tag] = builder.add_target(tag, tag.encode(), role)
    digests["X"] = builder.add_target("conflict", b"X", "targets/alice")
    digests["Y"] = builder.add_target("conflict", b"Y", "targets/releases")
    return builder, digests


# (reference, required delegations, expected digest key or denial reason), the test bed table.
DELEGATED_TABLE = [
    ("both", (), "both"),
    ("both", ALICE, "both"),
    ("both", RELEASES, "both"),
    ("both", BOTH, "both"),
    ("releases-only", (), "releases-only"),
    ("releases-only", RELEASES, "releases-only"),
    ("releases-only", ALICE, Reason.DELEGATION_NOT_SIGNED),
    ("releases-only", BOTH, Reason.DELEGATION_NOT_SIGNED),
    ("alice-only", (), Reason.TAG_NOT_SIGNED),
    ("alice-only", ALICE, "alice-only"),
    ("alice-only", RELEASES, Reason.DELEGATION_NOT_SIGNED),
    ("alice-only", BOTH, Reason.DELEGATION_NOT_SIGNED),
    ("conflict", (), "Y"),
    ("conflict", ALICE, "X"),
    ("conflict", RELEASES, "Y"),
    ("conflict", BOTH, Reason.AMBIGUOUS_DIGEST),
    ("@X", (), Reason.DIGEST_NOT_SIGNED),
    ("@X", ALICE, "X"),
    ("@X", RELEASES, Reason.DELEGATION_NOT_SIGNED),
    ("@X", BOTH, Reason.DELEGATION_NOT_SIGNED),
]


@pytest.mark.parametrize(("reference", "required", "expected"), DELEGATED_TABLE)
def test_delegated_scenario(
    delegated: tuple[RepositoryBuilder, dict[str, str]],
    reference: str,
    required: tuple[str, ...],
    expected: str | Reason,
) -> None:
    builder, digests = delegated
    tag, digest = (None, digests["X"]) if reference == "@X" else (reference, None)
    if isinstance(expected, Reason):
        with pytest.raises(TrustError) as caught:
            decide(builder, tag, digest, required)
        assert caught.value.reason is expected
    else:
        assert decide(builder, tag, digest, required) == digests[expected]


def test_delegation_unused_scenario_falls_back_to_targets() -> None:
    builder = RepositoryBuilder()
    builder.delegate("targets/releases", [generate_key()], publish=False)
    v1 = builder.add_target("v1", b"manifest")
    assert trusted(builder).declared == {"targets/releases"}
    assert decide(builder, "v1") == v1
    with pytest.raises(TrustError) as caught:
        decide(builder, "v1", required=RELEASES)
    assert (caught.value.reason, caught.value.role) == (
        Reason.DELEGATION_NOT_SIGNED,
        "targets/releases",
    )
    assert "is never published" in caught.value.message


def test_unpublished_role_bytes_are_not_trusted_even_if_served() -> None:
    builder = RepositoryBuilder()
    releases_key = generate_key()
    builder.delegate("targets/releases", [releases_key], publish=False)
    builder.add_target("v1", b"from targets")
    built = builder.build()
    repo = verify_repository(builder.gun, built.files, [builder.root_key.public_key], NOW)
    builder.unpublished.clear()
    builder.add_target("v1", b"sneaked in", "targets/releases")
    sneaked = builder.build().delegations["targets/releases"]
    targets = verify_delegations(repo, {"targets/releases": sneaked}, NOW)
    assert targets.delegated == {}


def test_role_not_declared_in_targets_is_refused() -> None:
    builder = RepositoryBuilder()
    built = builder.build()
    repo = verify_repository(builder.gun, built.files, [builder.root_key.public_key], NOW)
    with pytest.raises(TrustError) as caught:
        verify_delegations(repo, {"targets/mallory": b"{}"}, NOW)
    assert (caught.value.reason, caught.value.role) == (
        Reason.DELEGATION_NOT_SIGNED,
        "targets/mallory",
    )


def test_delegation_signed_by_a_key_it_was_not_given_is_denied() -> None:
    builder = RepositoryBuilder()
    builder.delegate("targets/releases", [generate_key()])
    builder.signers["targets/releases"] = [generate_key()]
    with pytest.raises(TrustError) as caught:
        trusted(builder)
    assert (caught.value.reason, caught.value.role) == (
        Reason.THRESHOLD_NOT_MET,
        "targets/releases",
    )


def test_expired_delegation_is_denied_and_lowers_the_expiry() -> None:
    builder = RepositoryBuilder()
    builder.delegate("targets/releases", [generate_key("ed25519")])
    builder.expires["targets/releases"] = NOW + timedelta(hours=1)
    assert trusted(builder).expires == NOW + timedelta(hours=1, microseconds=123456)
    builder.expires["targets/releases"] = NOW - timedelta(hours=1)
    with pytest.raises(TrustError) as caught:
        trusted(builder)
    assert (caught.value.reason, caught.value.role) == (Reason.EXPIRED, "targets/releases")


def test_delegation_threshold_with_rsa_keys() -> None:
    builder = RepositoryBuilder()
    first, second = generate_key("rsa"), generate_key("rsa-x509")
    builder.delegate("targets/releases", [first, second], threshold=2)
    digest = builder.add_target("v1", b"m", "targets/releases")
    builder.signers["targets/releases"] = [first, first]
    with pytest.raises(TrustError) as caught:
        trusted(builder)
    assert caught.value.reason is Reason.THRESHOLD_NOT_MET
    builder.signers["targets/releases"] = [first, second]
    assert decide(builder, "v1") == digest


def test_targets_outside_a_delegations_paths_are_dropped() -> None:
    builder = RepositoryBuilder()
    builder.delegate("targets/releases", [generate_key()], paths=["prod-"])
    prod = builder.add_target("prod-1", b"p", "targets/releases")
    builder.add_target("dev-1", b"d", "targets/releases")
    assert decide(builder, "prod-1") == prod
    with pytest.raises(TrustError) as caught:
        decide(builder, "dev-1")
    assert caught.value.reason is Reason.TAG_NOT_SIGNED


def test_path_hash_prefixes_select_targets_by_name_hash() -> None:
    import hashlib

    prefix = hashlib.sha256(b"v1").hexdigest()[:3]
    builder = RepositoryBuilder()
    builder.delegate(
        "targets/releases", [generate_key()], paths=None, path_hash_prefixes=[prefix.upper()]
    )
    v1 = builder.add_target("v1", b"m", "targets/releases")
    builder.add_target("v2", b"n", "targets/releases")
    assert decide(builder, "v1") == v1
    with pytest.raises(TrustError):
        decide(builder, "v2")


def test_a_reference_needs_a_tag_or_a_digest() -> None:
    with pytest.raises(ValueError, match="tag, a digest or both"):
        decide(RepositoryBuilder(), None)


@pytest.mark.parametrize(
    ("digest", "reason"),
    [
        ("sha512:" + "a" * 128, Reason.DIGEST_NOT_SIGNED),
        ("sha256:xyz", Reason.MALFORMED),
        ("a" * 64, Reason.MALFORMED),
    ],
)
def test_digest_syntax(digest: str, reason: Reason) -> None:
    with pytest.raises(TrustError) as caught:
        decide(RepositoryBuilder(), None, digest)
    assert caught.value.reason is reason
