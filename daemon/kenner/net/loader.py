"""Cache + single-flight: load each key at most once at a time and remember the outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import attrs
import trio

from kenner.net.cache import Cached, CachedFailure, CacheStatistics, TtlCache
from kenner.net.singleflight import SingleFlight, SingleFlightStatistics

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@attrs.frozen
class Loaded(Generic[V]):
    """What a load produced: the value and, optionally, how long it may be trusted.

    ``ttl_s`` bounds the cache lifetime below the configured ttl (e.g. the time left until the
    earliest signed role expires); None means "no bound of its own".
    """

    value: V
    ttl_s: float | None = None


class CachedLoader(Generic[K, V]):
    """Values per key from ``cache``; misses load once at a time per key in ``nursery``.

    A load runs in the background nursery (see ``SingleFlight``) under ``work_deadline_s`` and
    fills the cache itself, so its outcome is cached even when every waiting caller has given
    up. Failures, the deadline included, are cached for the cache's failure ttl and re-raised
    to callers during that time.
    """

    def __init__(
        self, cache: TtlCache[K, V], nursery: trio.Nursery, *, work_deadline_s: float
    ) -> None:
        self._cache = cache
        self._flights: SingleFlight[K, V] = SingleFlight(
            nursery, work_deadline_s=work_deadline_s, on_failure=cache.put_failure
        )

    def cache_statistics(self) -> CacheStatistics:
        """Hits, misses and evictions of the cache."""
        return self._cache.statistics()

    def flight_statistics(self) -> SingleFlightStatistics:
        """Loads started and calls that joined a running load."""
        return self._flights.statistics()

    async def get(self, key: K, load: Callable[[], Awaitable[Loaded[V]]]) -> V:
        """The cached value for ``key``, or the outcome of ``load()`` (shared with concurrent
        callers for the same key, whose own ``load`` is then not called).

        Raises:
            Exception: the cached failure, or whatever the load raised (see ``SingleFlight``).
        """
        hit = self._cache.lookup(key)
        if isinstance(hit, Cached):
            return hit.value
        if isinstance(hit, CachedFailure):
            raise hit.error.with_traceback(hit.traceback)
        return await self._flights.run(key, lambda: self._load_and_store(key, load))

    async def _load_and_store(self, key: K, load: Callable[[], Awaitable[Loaded[V]]]) -> V:
        loaded = await load()
        self._cache.put(key, loaded.value, ttl_s=loaded.ttl_s)
        return loaded.value
