"""The rollback guard refuses versions older than already verified, per host and GUN."""

from __future__ import annotations

import pytest

from kenner.tuf.errors import Reason, TrustError
from kenner.tuf.rollback import RollbackGuard

HOST, GUN = "notary.test:4443", "registry.test/team/app"


def test_newer_and_equal_versions_pass_and_are_recorded() -> None:
    guard = RollbackGuard()
    guard.observe(HOST, GUN, {"root": 1, "timestamp": 4, "snapshot": 3, "targets": 3})
    guard.observe(HOST, GUN, {"root": 1, "timestamp": 5, "snapshot": 3, "targets": 3})
    guard.observe(HOST, GUN, {"targets/releases": 2})
    assert guard.highest(HOST, GUN) == {
        "root": 1,
        "timestamp": 5,
        "snapshot": 3,
        "targets": 3,
        "targets/releases": 2,
    }


@pytest.mark.parametrize("role", ["root", "timestamp", "snapshot", "targets", "targets/releases"])
def test_an_older_version_of_any_role_is_a_rollback(role: str) -> None:
    guard = RollbackGuard()
    newest = {"root": 2, "timestamp": 9, "snapshot": 7, "targets": 5, "targets/releases": 3}
    guard.observe(HOST, GUN, newest)
    older = {**newest, role: newest[role] - 1}
    with pytest.raises(TrustError) as caught:
        guard.observe(HOST, GUN, older)
    assert (caught.value.reason, caught.value.role) == (Reason.ROLLBACK, role)
    assert f"version {newest[role]} was verified before" in caught.value.message


def test_a_refused_observation_records_nothing() -> None:
    guard = RollbackGuard()
    guard.observe(HOST, GUN, {"snapshot": 5, "timestamp": 5})
    with pytest.raises(TrustError):
        guard.observe(HOST, GUN, {"timestamp": 9, "snapshot": 4})
    assert guard.highest(HOST, GUN) == {"snapshot": 5, "timestamp": 5}


def test_hosts_and_guns_are_independent() -> None:
    guard = RollbackGuard()
    guard.observe(HOST, GUN, {"snapshot": 5})
    guard.observe("other.test", GUN, {"snapshot": 1})
    guard.observe(HOST, "registry.test/other", {"snapshot": 1})
    assert guard.highest("nowhere.test", GUN) == {}


def test_older_snapshot_served_after_a_newer_one_is_refused() -> None:
    from datetime import UTC, datetime

    from kenner.tuf.repository import verify_repository
    from tests.unit.tuf.builder import RepositoryBuilder

    now = datetime(2030, 1, 1, tzinfo=UTC)
    builder = RepositoryBuilder()
    old = builder.build()
    builder.versions.update(snapshot=2, timestamp=2)
    new = builder.build()
    pins = [builder.root_key.public_key]
    guard = RollbackGuard()
    guard.observe(HOST, GUN, verify_repository(GUN, new.files, pins, now).versions)
    replayed = verify_repository(GUN, old.files, pins, now)  # validly signed, still unexpired
    with pytest.raises(TrustError) as caught:
        guard.observe(HOST, GUN, replayed.versions)
    assert caught.value.reason is Reason.ROLLBACK


def test_the_memory_is_bounded_and_forgets_the_least_recently_verified() -> None:
    guard = RollbackGuard(max_repositories=2)
    guard.observe(HOST, "a", {"timestamp": 5})
    guard.observe(HOST, "b", {"timestamp": 5})
    guard.observe(HOST, "a", {"timestamp": 6})  # "a" is now the most recent
    guard.observe(HOST, "c", {"timestamp": 1})  # evicts "b"
    assert (len(guard), guard.evictions) == (2, 1)
    assert guard.highest(HOST, "b") == {}
    # Remembered: "a" still refuses a rollback.
    with pytest.raises(TrustError):
        guard.observe(HOST, "a", {"timestamp": 5})
    # Forgotten: older data of "b" becomes the new baseline (documented in docs/notaryv1.md).
    guard.observe(HOST, "b", {"timestamp": 1})
    assert guard.highest(HOST, "c") == {"timestamp": 1}
    assert guard.highest(HOST, "a") == {}  # a refused observation does not count as a use


def test_check_records_nothing_and_record_never_lowers() -> None:
    guard = RollbackGuard()
    guard.check(HOST, GUN, {"timestamp": 3})
    assert guard.highest(HOST, GUN) == {}
    guard.record(HOST, GUN, {"timestamp": 7})
    guard.record(HOST, GUN, {"timestamp": 2})
    assert guard.highest(HOST, GUN) == {"timestamp": 7}


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RollbackGuard(max_repositories=0)
