"""TtlCache under trio's virtual clock: expiry, per-entry bounds, negative entries, LRU."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kenner.net.cache import Cached, CachedFailure, CacheStatistics, TtlCache


def new_cache(**overrides: float) -> TtlCache[str, str]:
    settings = {"ttl_s": 10.0, "failure_ttl_s": 2.0, "max_entries": 100} | overrides
    return TtlCache(
        ttl_s=settings["ttl_s"],
        failure_ttl_s=settings["failure_ttl_s"],
        max_entries=int(settings["max_entries"]),
    )


async def test_value_lives_exactly_the_configured_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = new_cache()
    cache.put("k", "v")
    await trio.sleep(9.999)
    assert cache.lookup("k") == Cached("v")
    await trio.sleep(0.001)
    assert cache.lookup("k") is None
    assert cache.statistics() == CacheStatistics(
        hits=1, failure_hits=0, misses=1, evictions=0, size=0
    )


async def test_caller_expiry_shortens_but_never_extends_the_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = new_cache()
    cache.put("short", "v", ttl_s=3.0)
    cache.put("long", "v", ttl_s=1000.0)
    await trio.sleep(3.0)
    assert cache.lookup("short") is None
    assert cache.lookup("long") == Cached("v")
    await trio.sleep(7.0)
    assert cache.lookup("long") is None


@pytest.mark.parametrize("ttl_s", [0.0, -5.0, float("nan")])
async def test_an_already_expired_value_is_not_stored_and_replaces_the_old_one(
    autojump_clock: trio.testing.MockClock, ttl_s: float
) -> None:
    cache = new_cache()
    cache.put("k", "old")
    cache.put("k", "new", ttl_s=ttl_s)
    assert cache.lookup("k") is None


async def test_failure_is_remembered_for_the_failure_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = new_cache()
    error = ValueError("unreachable")
    cache.put_failure("k", error)
    await trio.sleep(1.999)
    hit = cache.lookup("k")
    assert isinstance(hit, CachedFailure)
    assert hit.error is error
    await trio.sleep(0.001)
    assert cache.lookup("k") is None
    assert cache.statistics().failure_hits == 1


async def test_failures_are_not_stored_without_a_failure_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache: TtlCache[str, str] = TtlCache(ttl_s=10, max_entries=5)
    cache.put_failure("k", ValueError("x"))
    assert cache.lookup("k") is None


async def test_least_recently_used_entry_is_evicted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = new_cache(max_entries=2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.lookup("a") == Cached("1")  # "b" is now least recently used
    cache.put("c", "3")
    assert cache.lookup("b") is None
    assert cache.lookup("a") == Cached("1")
    assert cache.lookup("c") == Cached("3")
    assert cache.statistics().evictions == 1
    assert cache.statistics().size == 2


async def test_invalidate_forgets(autojump_clock: trio.testing.MockClock) -> None:
    cache = new_cache()
    cache.put("k", "v")
    cache.invalidate("k")
    cache.invalidate("never-there")
    assert cache.lookup("k") is None


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries must be at least 1, not 0"):
        TtlCache(ttl_s=1, max_entries=0)
