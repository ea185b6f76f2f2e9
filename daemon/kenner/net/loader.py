"""Cache + single-flight: load each key at most once at a time and remember the outcome.

An answer that needs several cached values, each depending on the one before (a tag's digest,
then that digest's signatures), is written once as a synchronous ``decide(lookups)`` and run
two ways: ``answer_from_caches`` (no I/O, no checkpoint: None as soon as a value is missing)
and ``answer_with_loads`` (loads what is missing, then decides again). Both paths thus give
the same answer for the same cache state.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar, cast

import attrs
import trio

from kenner.errors import KennerError
from kenner.net.cache import Cached, CachedFailure, CacheStatistics, TtlCache, unwrap
from kenner.net.singleflight import SingleFlight, SingleFlightStatistics

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


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
            # re-raises it (``unwrap``); a bug thus still reaches ``validate``'s caller.
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


class NotAtHand(KennerError):
    """Raised by ``Lookups.take`` for a value it does not hold: a signal, not an error.

    ``decide`` functions must let it through (catch only the errors they map to answers).
    """


class _MustLoad(NotAtHand):
    def __init__(self, load: Callable[[], Awaitable[None]]) -> None:
        super().__init__("the value must be loaded first")
        self.load = load


class Lookups(Protocol):
    """Where a ``decide`` function takes the cached values it needs from."""

    def take(
        self, loader: CachedLoader[K, V], key: K, load: Callable[[], Awaitable[Loaded[V]]]
    ) -> V:
        """The value of ``key`` (``load`` fills a miss), or its failure raised.

        Raises:
            NotAtHand: the value must be loaded first.
            Exception: the (remembered) failure of its load.
        """
        ...


def answer_from_caches(decide: Callable[[Lookups], R]) -> R | None:
    """``decide``'s answer when every value it takes is cached and fresh, else None.

    Never waits. The entries an answer came from count as cache hits (a remembered failure
    as a failure hit), as in ``answer_with_loads``; after a None nothing was counted, and the
    loads that follow count their own hits and misses.
    """
    lookups = _Peeked()
    try:
        answer = decide(lookups)
    except NotAtHand:
        return None
    except Exception:
        # A remembered failure that ``decide`` raises, as it would after the load: counted,
        # then re-raised unchanged (broad because it swallows nothing).
        lookups.record_hits()
        raise
    lookups.record_hits()
    return answer


async def answer_with_loads(decide: Callable[[Lookups], R]) -> R:
    """``decide``'s answer, loading (or joining the load of) each value it misses.

    ``decide`` runs again after each load, with every value obtained so far at hand, so it
    sees each value once even when the cache keeps nothing (ttl 0).
    """
    lookups = _Awaited()
    while True:
        try:
            return decide(lookups)
        except _MustLoad as missing:
            await missing.load()


class _Peeked:
    def __init__(self) -> None:
        self._used: list[tuple[CachedLoader[Any, Any], Hashable]] = []

    def take(
        self, loader: CachedLoader[K, V], key: K, load: Callable[[], Awaitable[Loaded[V]]]
    ) -> V:
        outcome = loader.peek(key)
        if outcome is None:
            raise NotAtHand("the value is not cached")
        self._used.append((loader, key))
        return unwrap(outcome)

    def record_hits(self) -> None:
        for loader, key in self._used:
            loader.record_hit(key)


class _Awaited:
    def __init__(self) -> None:
        self._outcomes: dict[tuple[CachedLoader[Any, Any], Hashable], Cached[Any] | CachedFailure]
        self._outcomes = {}

    def take(
        self, loader: CachedLoader[K, V], key: K, load: Callable[[], Awaitable[Loaded[V]]]
    ) -> V:
        outcome = self._outcomes.get((loader, key))
        if outcome is None:
            raise _MustLoad(lambda: self._load(loader, key, load))
        return unwrap(cast("Cached[V] | CachedFailure", outcome))

    async def _load(
        self, loader: CachedLoader[K, V], key: K, load: Callable[[], Awaitable[Loaded[V]]]
    ) -> None:
        self._outcomes[(loader, key)] = await loader.outcome(key, load)
