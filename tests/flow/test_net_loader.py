"""CachedLoader: single-flight loads that fill the cache even when every caller gave up."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kenner.errors import KennerError
from kenner.net.cache import TtlCache
from kenner.net.loader import CachedLoader, Loaded


class Unreachable(KennerError):  # an expected failure: cached like one
    pass


def new_loader(background: trio.Nursery, *, work_deadline_s: float = 30.0):
    cache: TtlCache[str, str] = TtlCache(ttl_s=60, failure_ttl_s=5, max_entries=10)
    return CachedLoader(cache, background, work_deadline_s=work_deadline_s)


class Source:
    """A load function that counts its calls and takes ``seconds`` of virtual time."""

    def __init__(self, seconds: float, *, fail: bool = False, ttl_s: float | None = None):
        self.seconds = seconds
        self.fail = fail
        self.ttl_s = ttl_s
        self.calls: list[float] = []

    async def load(self) -> Loaded[str]:
        self.calls.append(trio.current_time())
        await trio.sleep(self.seconds)
        if self.fail:
            raise Unreachable(f"load {len(self.calls)} failed")
        return Loaded(f"value {len(self.calls)}", ttl_s=self.ttl_s)


async def test_concurrent_callers_load_once_and_later_callers_hit_the_cache(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    loader = new_loader(background)
    source = Source(2.0)
    results: list[str] = []

    async def caller() -> None:
        results.append(await loader.get("k", source.load))

    async with trio.open_nursery() as callers:
        for _ in range(200):
            callers.start_soon(caller)
    assert results == ["value 1"] * 200
    before = trio.current_time()
    assert await loader.get("k", source.load) == "value 1"
    assert trio.current_time() == before  # a hit does not wait
    assert len(source.calls) == 1
    assert loader.flight_statistics().joined == 199
    assert loader.cache_statistics().hits == 1


async def test_caller_that_gives_up_still_gets_the_value_cached(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    loader = new_loader(background)
    source = Source(5.0)
    start = trio.current_time()
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(1):
            await loader.get("k", source.load)
    await trio.sleep(4.0)  # the background load finishes at start + 5
    assert await loader.get("k", source.load) == "value 1"
    assert trio.current_time() == start + 5
    assert source.calls == [start]


async def test_failure_reaches_all_waiters_and_is_cached_for_the_failure_ttl_only(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    loader = new_loader(background)
    source = Source(1.0, fail=True)
    errors: list[Unreachable] = []

    async def caller() -> None:
        try:
            await loader.get("k", source.load)
        except Unreachable as exc:
            errors.append(exc)

    async with trio.open_nursery() as callers:
        for _ in range(10):
            callers.start_soon(caller)
    assert len(errors) == 10
    assert all(exc is errors[0] for exc in errors)
    failed_at = trio.current_time()

    await trio.sleep(4.999)
    with pytest.raises(Unreachable, match="load 1 failed") as cached:
        await loader.get("k", source.load)
    assert cached.value is errors[0]
    assert len(source.calls) == 1

    await trio.sleep(0.001)  # failure ttl (5 s) over: load again
    with pytest.raises(Unreachable, match="load 2 failed"):
        await loader.get("k", source.load)
    assert source.calls == [0.0, failed_at + 5.0]


async def test_a_bug_reaches_the_waiters_but_is_not_cached(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    """Issue 11 point 12: a bug is no remembered outcome; the next call loads again."""
    loader = new_loader(background)
    calls: list[float] = []

    async def broken() -> Loaded[str]:
        calls.append(trio.current_time())
        raise KeyError("a bug")

    for _ in range(2):
        with pytest.raises(KeyError, match="a bug"):
            await loader.get("k", broken)
    assert len(calls) == 2
    assert loader.cache_statistics().failure_hits == 0


async def test_work_deadline_is_a_cached_failure(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    loader = new_loader(background, work_deadline_s=3.0)
    source = Source(100.0)
    with pytest.raises(trio.TooSlowError):
        await loader.get("k", source.load)
    with pytest.raises(trio.TooSlowError):
        await loader.get("k", source.load)
    assert len(source.calls) == 1
    assert loader.cache_statistics().failure_hits == 1


async def test_loaded_ttl_bounds_the_cache_lifetime(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    loader = new_loader(background)
    source = Source(0.0, ttl_s=7.0)  # e.g. the earliest signed role expires in 7 s
    assert await loader.get("k", source.load) == "value 1"
    await trio.sleep(6.999)
    assert await loader.get("k", source.load) == "value 1"
    await trio.sleep(0.001)
    assert await loader.get("k", source.load) == "value 2"
