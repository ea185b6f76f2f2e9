"""A bounded in-memory cache with per-entry expiry, negative entries and hit statistics.

Time comes from an injectable clock (``trio.current_time`` by default) so tests can drive
expiry with trio's virtual clock. The cache is not thread-safe; like everything in kenner it
lives in one trio run.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

import attrs
import trio

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Clock = Callable[[], float]


@attrs.frozen
class Cached(Generic[V]):
    """A cache hit holding a value."""

    value: V


@attrs.frozen
class CachedFailure:
    """A cache hit holding a remembered failure (a negative entry).

    ``traceback`` is the error's traceback when it was stored: re-raise with
    ``error.with_traceback(traceback)`` so repeated raises do not keep growing it.
    """

    error: Exception
    traceback: TracebackType | None = attrs.field(default=None, eq=False)


def unwrap(outcome: Cached[V] | CachedFailure) -> V:
    """The value of a hit, or its remembered failure raised (from the stored traceback)."""
    if isinstance(outcome, CachedFailure):
        raise outcome.error.with_traceback(outcome.traceback)
    return outcome.value


@attrs.frozen
class CacheStatistics:
    """Counters since the cache was created."""

    hits: int
    failure_hits: int
    misses: int
    evictions: int
    size: int


@attrs.define
class _Entry(Generic[V]):
    outcome: Cached[V] | CachedFailure
    expires_at: float


class TtlCache(Generic[K, V]):
    """Values kept for at most ``ttl_s`` (or less, per entry), failures for ``failure_ttl_s``.

    When ``max_entries`` is reached the least recently used entry is evicted.
    """

    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int,
        failure_ttl_s: float = 0.0,
        clock: Clock = trio.current_time,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._hits = self._failure_hits = self._misses = self._evictions = 0

    @property
    def failure_ttl_s(self) -> float:
        """How long a failure is remembered."""
        return self._failure_ttl_s

    def lookup(self, key: K) -> Cached[V] | CachedFailure | None:
        """The live entry for ``key`` (marked most recently used), or None on a miss."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._entries[key]
            entry = None
        if entry is None:
            self._misses += 1
            return None
        self.record_hit(key)
        return entry.outcome

    def peek(self, key: K) -> Cached[V] | CachedFailure | None:
        """The live entry for ``key``, or None, without counting it or marking it used.

        For a caller that decides from several entries whether it can answer without loading:
        it calls ``record_hit`` for each entry it then uses, so that a look that ends in a load
        (and the ``lookup`` that load makes) is not counted twice.
        """
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry.outcome

    def record_hit(self, key: K) -> None:
        """Count a hit on the entry ``peek`` just returned and mark it most recently used.

        Raises:
            KeyError: ``key`` has no entry (a put or an eviction ran since the peek).
        """
        entry = self._entries[key]
        self._entries.move_to_end(key)
        if isinstance(entry.outcome, CachedFailure):
            self._failure_hits += 1
        else:
            self._hits += 1

    def put(self, key: K, value: V, *, ttl_s: float | None = None) -> None:
        """Remember ``value`` for min(configured ttl, ``ttl_s``) seconds.

        ``ttl_s`` is the caller's own bound, e.g. the time left until signed data expires.
        A lifetime of zero or less stores nothing (and forgets an older entry).
        """
        if ttl_s is not None and math.isnan(ttl_s):
            ttl_s = 0.0  # a broken bound must not turn into the full ttl (min() ignores NaN)
        lifetime = self._ttl_s if ttl_s is None else min(self._ttl_s, ttl_s)
        self._store(key, Cached(value), lifetime)

    def put_failure(self, key: K, error: Exception) -> None:
        """Remember that loading ``key`` failed with ``error``, for the failure ttl."""
        self._store(key, CachedFailure(error, error.__traceback__), self._failure_ttl_s)

    def invalidate(self, key: K) -> None:
        """Forget ``key`` if present."""
        self._entries.pop(key, None)

    def statistics(self) -> CacheStatistics:
        """The counters so far and the current number of entries (expired ones included)."""
        return CacheStatistics(
            hits=self._hits,
            failure_hits=self._failure_hits,
            misses=self._misses,
            evictions=self._evictions,
            size=len(self._entries),
        )

    def _store(self, key: K, outcome: Cached[V] | CachedFailure, lifetime: float) -> None:
        self._entries.pop(key, None)
        if not lifetime > 0:
            return
        self._entries[key] = _Entry(outcome, self._clock() + lifetime)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
            self._evictions += 1
