"""answer_from_caches and answer_with_loads: one decide(), two ways of getting its values.

The decide function here reads two dependent values, as the cosign validator does: a tag's
digest, then that digest's signer. Loads take virtual time, so a cached answer is seen to
take none.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kenner.errors import KennerError
from kenner.net.cache import CacheStatistics, TtlCache
from kenner.net.loader import (
    CachedLoader,
    Loaded,
    Lookups,
    answer_from_caches,
    answer_with_loads,
)

LOAD_S = 1.0


class Unreachable(KennerError):  # an expected failure: cached like one
    pass


class Registry:
    """Two loaders (tag -> digest, digest -> signer) over one scripted source of truth."""

    def __init__(self, background: trio.Nursery, *, ttl_s: float = 60.0) -> None:
        self.digests = {"v1": "sha256:aaa"}
        self.signers = {"sha256:aaa": "alice"}
        self.loads: list[str] = []
        self.signature_cache: TtlCache[str, str] = TtlCache(
            ttl_s=ttl_s, failure_ttl_s=5.0, max_entries=10
        )
        self.tags: CachedLoader[str, str] = CachedLoader(
            TtlCache(ttl_s=ttl_s, failure_ttl_s=5.0, max_entries=10),
            background,
            work_deadline_s=30.0,
        )
        self.signatures = CachedLoader(self.signature_cache, background, work_deadline_s=30.0)

    async def _load(self, table: dict[str, str], key: str) -> Loaded[str]:
        self.loads.append(key)
        await trio.sleep(LOAD_S)
        if key not in table:
            raise Unreachable(f"{key} is not there")
        return Loaded(table[key])

    def decide(self, tag: str, lookups: Lookups) -> str:
        """'<signer> signed <digest>', or 'denied: <error>' when a load failed."""
        try:
            digest = lookups.take(self.tags, tag, lambda: self._load(self.digests, tag))
            signer = lookups.take(self.signatures, digest, lambda: self._load(self.signers, digest))
        except Unreachable as error:
            return f"denied: {error}"
        return f"{signer} signed {digest}"

    def statistics(self) -> tuple[CacheStatistics, CacheStatistics]:
        return self.tags.cache_statistics(), self.signatures.cache_statistics()


def _stats(hits: int = 0, failure_hits: int = 0, misses: int = 0, size: int = 0):
    return CacheStatistics(
        hits=hits, failure_hits=failure_hits, misses=misses, evictions=0, size=size
    )


async def test_cold_loads_each_value_once_then_the_caches_answer_without_waiting(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = Registry(background)
    assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) is None
    assert registry.statistics() == (_stats(), _stats())  # a look that fails counts nothing
    start = trio.current_time()
    loaded = await answer_with_loads(lambda lookups: registry.decide("v1", lookups))
    assert loaded == "alice signed sha256:aaa"
    assert trio.current_time() - start == 2 * LOAD_S  # the second value needs the first
    assert registry.loads == ["v1", "sha256:aaa"]
    assert registry.statistics() == (_stats(misses=1, size=1), _stats(misses=1, size=1))
    start = trio.current_time()
    assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) == loaded
    assert trio.current_time() == start
    assert registry.statistics() == (
        _stats(hits=1, misses=1, size=1),
        _stats(hits=1, misses=1, size=1),
    )


async def test_a_partial_hit_counts_only_what_the_loading_path_then_counts(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = Registry(background)
    await answer_with_loads(lambda lookups: registry.decide("v1", lookups))
    registry.signature_cache.invalidate("sha256:aaa")
    before = registry.statistics()
    assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) is None
    assert registry.statistics() == before
    assert await answer_with_loads(lambda lookups: registry.decide("v1", lookups)) == (
        "alice signed sha256:aaa"
    )
    # One validation: one tag hit and one signature miss, as without the fast path.
    assert registry.statistics() == (
        _stats(hits=1, misses=1, size=1),
        _stats(misses=2, size=1),
    )


async def test_a_remembered_failure_gives_the_same_answer_and_counts_a_failure_hit(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = Registry(background)
    loaded = await answer_with_loads(lambda lookups: registry.decide("v2", lookups))
    assert loaded == "denied: v2 is not there"
    assert answer_from_caches(lambda lookups: registry.decide("v2", lookups)) == loaded
    assert registry.statistics()[0] == _stats(failure_hits=1, misses=1, size=1)
    assert registry.loads == ["v2"]
    await trio.sleep(5.0)  # the failure ttl
    assert answer_from_caches(lambda lookups: registry.decide("v2", lookups)) is None


async def test_values_expire_from_the_fast_path_with_the_cache(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = Registry(background)
    await answer_with_loads(lambda lookups: registry.decide("v1", lookups))
    # Now is 2 LOAD_S after the start; the tag was cached at LOAD_S and expires first.
    await trio.sleep(60.0 - LOAD_S - 0.001)
    assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) is not None
    await trio.sleep(0.001)
    assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) is None


async def test_without_a_cache_the_loading_path_still_ends(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    registry = Registry(background, ttl_s=0.0)  # keeps nothing: values live in the call only
    for _ in range(2):
        loaded = await answer_with_loads(lambda lookups: registry.decide("v1", lookups))
        assert loaded == "alice signed sha256:aaa"
        assert answer_from_caches(lambda lookups: registry.decide("v1", lookups)) is None
    assert registry.loads == ["v1", "sha256:aaa"] * 2


async def test_an_unexpected_error_is_raised_but_not_remembered(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    """A bug in a load reaches the caller, and is never cached as an outcome (issue 11
    point 12): the cache-only path finds nothing, so the next request loads again."""
    registry = Registry(background)

    async def broken() -> Loaded[str]:
        raise ValueError("a bug in the load")

    def decide(lookups: Lookups) -> str:
        return lookups.take(registry.tags, "bug", broken)

    with pytest.raises(ValueError, match="a bug in the load"):
        await answer_with_loads(decide)
    assert answer_from_caches(decide) is None
    assert registry.statistics()[0] == _stats(misses=1, size=0)
