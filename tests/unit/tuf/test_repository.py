"""Round 1 on generated repositories: key types, thresholds, expiry, tampering, root rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kenner.tuf.delegations import verify_delegations
from kenner.tuf.digest import choose_digest
from kenner.tuf.errors import Reason, RootRotationNeeded, TrustError
from kenner.tuf.repository import TOP_LEVEL_ROLES, VerifiedRepository, verify_repository
from tests.unit.tuf.builder import BuiltRepository, RepositoryBuilder, SigningKey, generate_key

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def verify(
    built: BuiltRepository, pin: SigningKey, rotation_roots: dict[int, bytes] | None = None
) -> VerifiedRepository:
    return verify_repository(
        "kenner.test/team/app", built.files, [pin.public_key], NOW, rotation_roots
    )


def denied(
    built: BuiltRepository, pin: SigningKey, rotation_roots: dict[int, bytes] | None = None
) -> TrustError:
    with pytest.raises(TrustError) as caught:
        verify(built, pin, rotation_roots)
    return caught.value


@pytest.mark.parametrize(
    ("root_type", "role_type"),
    [
        ("ecdsa-x509", "ecdsa"),
        ("ecdsa-x509", "ed25519"),
        ("rsa-x509", "rsa"),
        ("rsa", "rsa-x509"),
        ("ed25519", "ecdsa-x509"),
        ("ecdsa", "ed25519"),
    ],
)
def test_full_chain_with_every_key_type_and_signature_method(
    root_type: str, role_type: str
) -> None:
    root_key = generate_key(root_type)
    builder = RepositoryBuilder.create(root_key, role_type)
    digest = builder.add_target("v1", b"manifest")
    repo = verify(builder.build(), root_key)
    assert choose_digest(verify_delegations(repo, {}, NOW), "v1", None, ()) == digest
    assert repo.versions == dict.fromkeys(TOP_LEVEL_ROLES, 1)


def test_any_of_several_pinned_keys_anchors_trust() -> None:
    builder = RepositoryBuilder()
    built = builder.build()
    keys = [generate_key().public_key, builder.root_key.public_key]
    repo = verify_repository("kenner.test/team/app", built.files, keys, NOW)
    assert repo.versions["root"] == 1


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets"])
def test_an_expired_role_is_denied(role: str) -> None:
    builder = RepositoryBuilder()
    builder.expires[role] = NOW - timedelta(seconds=1)
    error = denied(builder.build(), builder.root_key)
    assert (error.reason, error.role) == (Reason.EXPIRED, role)


def test_expiry_is_reported_as_the_earliest_role_expiry() -> None:
    builder = RepositoryBuilder()
    builder.expires["snapshot"] = NOW + timedelta(days=3)
    assert verify(builder.build(), builder.root_key).expires == NOW + timedelta(
        days=3, microseconds=123456
    )


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_threshold_counts_distinct_keys_not_signatures(role: str) -> None:
    builder = RepositoryBuilder()
    first, second = generate_key(), generate_key()
    builder.role_keys[role] = [first, second]
    builder.thresholds[role] = 2
    builder.signers[role] = [first, first]
    error = denied(builder.build(), builder.root_key)
    assert (error.reason, error.role) == (Reason.THRESHOLD_NOT_MET, role)
    assert "1 distinct authorised key(s), threshold is 2" in error.message
    builder.signers[role] = [second, first]
    assert verify(builder.build(), builder.root_key).versions[role] == 1


def test_root_threshold_two_with_the_pinned_key_signing_twice_is_denied() -> None:
    builder = RepositoryBuilder()
    other = generate_key("ecdsa-x509")
    builder.roots[0].keys.append(other)
    builder.roots[0].threshold = 2
    builder.roots[0].signers[:] = [builder.root_key, builder.root_key]
    error = denied(builder.build(), builder.root_key)
    assert (error.reason, error.role) == (Reason.THRESHOLD_NOT_MET, "root")
    builder.roots[0].signers[:] = [builder.root_key, other]
    assert verify(builder.build(), builder.root_key).versions["root"] == 1


def test_signatures_by_unknown_keys_are_ignored() -> None:
    builder = RepositoryBuilder()
    stranger = generate_key()
    builder.signers["targets"] = [stranger, *builder.role_keys["targets"]]
    builder.signers["root"] = [stranger, builder.root_key]
    verify(builder.build(), builder.root_key)
    builder.signers["targets"] = [stranger]
    error = denied(builder.build(), builder.root_key)
    assert (error.reason, error.role) == (Reason.THRESHOLD_NOT_MET, "targets")


def test_a_signature_that_does_not_verify_is_a_bad_signature() -> None:
    builder = RepositoryBuilder()
    built = builder.build()
    forged = built.files["timestamp"].replace(b'"version":1', b'"version":2')
    error = denied(BuiltRepository({**built.files, "timestamp": forged}, {}, {}), builder.root_key)
    assert (error.reason, error.role) == (Reason.BAD_SIGNATURE, "timestamp")


def test_replaced_snapshot_breaks_the_timestamp_binding() -> None:
    builder = RepositoryBuilder()
    original = builder.build()
    builder.add_target("v2", b"other")
    newer = builder.build()
    mixed = {**newer.files, "timestamp": original.files["timestamp"]}
    error = denied(BuiltRepository(mixed, {}, {}), builder.root_key)
    assert (error.reason, error.role) == (Reason.HASH_MISMATCH, "snapshot")


def test_a_missing_top_level_role_is_no_trust_data() -> None:
    builder = RepositoryBuilder()
    built = builder.build()
    del built.files["snapshot"]
    error = denied(built, builder.root_key)
    assert (error.reason, error.role) == (Reason.NO_TRUST_DATA, "snapshot")


def test_naive_reference_time_is_a_programming_error() -> None:
    builder = RepositoryBuilder()
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_repository(
            "g", builder.build().files, [builder.root_key.public_key], datetime(2030, 1, 1)
        )


def verify_or_refuse_history(files: dict[str, bytes], pin: SigningKey) -> None:
    try:
        verify_repository("g", files, [pin.public_key], NOW)
    except RootRotationNeeded:
        # A flipped root version asks for history; without any, trust is still refused.
        verify_repository("g", files, [pin.public_key], NOW, rotation_roots={})


@pytest.fixture(scope="module")
def tamper_target() -> tuple[BuiltRepository, SigningKey]:
    builder = RepositoryBuilder()
    builder.add_target("v1", b"manifest")
    return builder.build(), builder.root_key


@settings(max_examples=300, deadline=None)
@given(role=st.sampled_from(TOP_LEVEL_ROLES), position=st.floats(0, 1), bit=st.integers(0, 7))
def test_flipping_any_bit_of_a_signed_part_is_denied(
    tamper_target: tuple[BuiltRepository, SigningKey], role: str, position: float, bit: int
) -> None:
    built, pin = tamper_target
    raw = built.files[role]
    start = raw.index(b'{"signed":') + len(b'{"signed":')
    end = raw.index(b',"signatures":')
    offset = start + min(int(position * (end - start)), end - start - 1)
    tampered = raw[:offset] + bytes([raw[offset] ^ (1 << bit)]) + raw[offset + 1 :]
    files = {**built.files, role: tampered}
    with pytest.raises(TrustError):
        verify_or_refuse_history(files, pin)


def rotated(times: int, **rotate: bool) -> tuple[RepositoryBuilder, list[SigningKey]]:
    builder = RepositoryBuilder()
    keys = [builder.root_key]
    for _ in range(times):
        keys.append(generate_key("ecdsa-x509"))
        builder.rotate_root([keys[-1]], **rotate)
    return builder, keys


def test_rotated_root_asks_for_history_then_follows_the_chain() -> None:
    builder, (old, _middle, new) = rotated(2)
    built = builder.build()
    with pytest.raises(RootRotationNeeded) as caught:
        verify(built, old)
    assert caught.value.current_version == 3
    assert set(built.rotation_roots) == {1, 2}
    assert verify(built, old, built.rotation_roots).versions["root"] == 3
    assert verify(built, new).versions["root"] == 3


def test_chain_may_start_at_the_newest_root_the_pin_signs() -> None:
    builder = RepositoryBuilder()
    old = builder.root_key
    builder.rotate_root([old, generate_key("ecdsa-x509")])
    builder.rotate_root([generate_key("ecdsa-x509")])
    built = builder.build()
    assert verify(built, old, {2: built.rotation_roots[2], 1: b"garbage"}).versions["root"] == 3


def test_rotation_not_signed_by_the_previous_root_breaks_the_chain() -> None:
    builder, (old, _new) = rotated(1, signed_by_previous=False)
    built = builder.build()
    error = denied(built, old, built.rotation_roots)
    assert (error.reason, error.role) == (Reason.ROOT_KEY_MISMATCH, "root")
    assert "chain broken at version 2" in error.message
    assert "by the root keys of version 1" in error.message


def test_rotated_root_must_also_be_signed_by_its_own_keys() -> None:
    builder, (old, _new) = rotated(1)
    builder.signers["root"] = [old]
    built = builder.build()
    error = denied(built, old, built.rotation_roots)
    assert (error.reason, error.role) == (Reason.ROOT_KEY_MISMATCH, "root")


def test_a_missing_intermediate_root_breaks_the_chain() -> None:
    builder, (old, _middle, _new) = rotated(2)
    built = builder.build()
    error = denied(built, old, {1: built.rotation_roots[1]})
    assert "2.root.json is missing" in error.message
    error = denied(built, generate_key(), built.rotation_roots)
    assert error.reason is Reason.ROOT_KEY_MISMATCH
    assert "is not signed by the pinned root key" in error.message
