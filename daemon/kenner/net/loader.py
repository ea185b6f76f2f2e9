"""Cache + single-flight: load each key at most once at a time and remember the outcome.

The validator driver (``kenner.validators.driver``) keeps every validator's facts in one
``CachedLoader``: ``peek`` and ``record_hit`` serve its warm path (no waiting, and hits counted
only for an answer given), ``outcome`` its loads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import attrs
import trio

from kenner.errors import KennerError
from kenner.net.cache import Cached, CachedFailure, CacheStatistics, TtlCache, unwrap
from kenner.net.singleflight import SingleFlight, SingleFlightStatistics

log = logging.getLogger(__name__)

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
    up. Expected failures (``KennerError``) and the deadline are cached for the cache's failure
    ttl and re-raised to callers during that time. Any other exception is a bug: it reaches the
    callers waiting now and is logged with its traceback, but never cached, so it never
    becomes a remembered outcome.
    """

    def __init__(
        self, cache: TtlCache[K, V], nursery: trio.Nursery, *, work_deadline_s: float
    ) -> None:
        self._cache = cache
        self._flights: SingleFlight[K, V] = SingleFlight(
            nursery, work_deadline_s=work_deadline_s, on_failure=self._remember_failure
        )

    @property
    def failure_ttl_s(self) -> float:
        """How long the cache remembers a failure."""
        return self._cache.failure_ttl_s

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
        if hit is not None:
            return unwrap(hit)
        return await self._flights.run(key, lambda: self._load_and_store(key, load))

    async def outcome(
        self, key: K, load: Callable[[], Awaitable[Loaded[V]]]
    ) -> Cached[V] | CachedFailure:
        """Like ``get``, with a failure returned instead of raised (as ``peek`` returns one)."""
        try:
            return Cached(await self.get(key, load))
        except Exception as error:
            # Broad on purpose, and safe: the failure is handed to this one answer, which
            # re-raises it (``unwrap``); a bug thus still reaches the driver's caller.
            return CachedFailure(error, error.__traceback__)

    def peek(self, key: K) -> Cached[V] | CachedFailure | None:
        """The live cache entry for ``key`` without loading, counting or waiting (see
        ``TtlCache.peek``); call ``record_hit`` for an entry the answer then comes from."""
        return self._cache.peek(key)

    def record_hit(self, key: K) -> None:
        """Count the entry ``peek`` returned as a cache hit (see ``TtlCache.record_hit``)."""
        self._cache.record_hit(key)

    def _remember_failure(self, key: K, error: Exception) -> None:
        if isinstance(error, KennerError | trio.TooSlowError):
            self._cache.put_failure(key, error)
            return
        log.error("a load failed with an unexpected error; not cached", exc_info=error)

    async def _load_and_store(self, key: K, load: Callable[[], Awaitable[Loaded[V]]]) -> V:
        loaded = await load()
        self._cache.put(key, loaded.value, ttl_s=loaded.ttl_s)
        return loaded.value
