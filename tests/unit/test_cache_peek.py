"""TtlCache.peek and record_hit: looking without counting, then counting what was used."""

from __future__ import annotations

import pytest

from kenner.net.cache import Cached, CachedFailure, CacheStatistics, TtlCache, unwrap


class Clock:
    """A hand-driven clock for the cache (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def new_cache(clock: Clock, *, max_entries: int = 10) -> TtlCache[str, str]:
    return TtlCache(ttl_s=10.0, failure_ttl_s=2.0, max_entries=max_entries, clock=clock)


def test_peek_returns_live_entries_without_counting_anything() -> None:
    clock = Clock()
    cache = new_cache(clock)
    error = LookupError("no such repository")
    cache.put("value", "v")
    cache.put_failure("failed", error)
    assert cache.peek("value") == Cached("v")
    assert cache.peek("failed") == CachedFailure(error)
    assert cache.peek("absent") is None
    assert cache.statistics() == CacheStatistics(
        hits=0, failure_hits=0, misses=0, evictions=0, size=2
    )


def test_peek_of_an_expired_entry_is_none_and_counts_no_miss() -> None:
    clock = Clock()
    cache = new_cache(clock)
    cache.put("value", "v", ttl_s=3.0)
    clock.now += 2.999
    assert cache.peek("value") == Cached("v")
    clock.now += 0.001
    assert cache.peek("value") is None
    assert cache.statistics().misses == 0
    # The look-up that follows a peek's None is the one that counts the miss.
    assert cache.lookup("value") is None
    assert cache.statistics() == CacheStatistics(
        hits=0, failure_hits=0, misses=1, evictions=0, size=0
    )


def test_record_hit_counts_a_value_or_a_failure_like_lookup_does() -> None:
    clock = Clock()
    peeked, looked_up = new_cache(clock), new_cache(clock)
    for cache in (peeked, looked_up):
        cache.put("value", "v")
        cache.put_failure("failed", LookupError("no such repository"))
    for key in ("value", "failed", "value"):
        assert peeked.peek(key) is not None
        peeked.record_hit(key)
        looked_up.lookup(key)
    assert peeked.statistics() == looked_up.statistics()
    assert peeked.statistics() == CacheStatistics(
        hits=2, failure_hits=1, misses=0, evictions=0, size=2
    )


def test_only_record_hit_marks_an_entry_recently_used() -> None:
    clock = Clock()
    cache = new_cache(clock, max_entries=2)
    cache.put("old", "1")
    cache.put("new", "2")
    cache.peek("old")  # a look only: "old" stays the least recently used
    cache.put("third", "3")
    assert cache.peek("old") is None
    assert cache.peek("new") == Cached("2")
    cache.record_hit("new")  # now "third" is the least recently used
    cache.put("fourth", "4")
    assert cache.peek("third") is None
    assert cache.peek("new") == Cached("2")


def test_record_hit_on_a_key_without_entry_is_a_key_error() -> None:
    cache = new_cache(Clock())
    with pytest.raises(KeyError):
        cache.record_hit("absent")


def test_unwrap_gives_the_value_or_raises_the_remembered_failure() -> None:
    assert unwrap(Cached("v")) == "v"
    error = LookupError("no such repository")
    with pytest.raises(LookupError) as raised:
        unwrap(CachedFailure(error))
    assert raised.value is error
