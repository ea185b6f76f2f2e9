"""The one driver of validator steps: it meets their needs and calls them again.

A validator (``kenner.validators.base``) is a sans-IO step; the ``Driver`` of each configured
validator owns everything the step must not do: the network (``kenner.validators.network``),
the cache and single-flight (``kenner.net.loader.CachedLoader``), the per-fetch deadline and
the worker thread for CPU-heavy work (``kenner.offload``). The request's deadline is its
caller's (``kenner.validators.run``), which cancels ``answer`` when time is up.

Rules:

- Two ways to answer, one step. ``answer_now`` runs the step with the cache alone, in the
  caller's task, with no task, cancel scope or checkpoint: the warm path, which the benchmark
  measures. When the step still needs something it returns None and counts nothing.
  ``answer`` runs the step, meets the needs it returns and runs it again until it gives a
  verdict. Both give the same verdict for the same cache state, and the cache entries a
  verdict came from count as hits either way.
- What the verdict step asks for is cached and shared: each need is looked up in the cache,
  and a miss is loaded once for all concurrent requests (single-flight, in the daemon's
  background nursery, under ``deadlines.requestSeconds``), so a request that gives up leaves
  the load running for the others. Expected failures (``KennerError``, the load deadline) are
  remembered for ``cache.failureTtlSeconds``; a bug is never remembered.
- A ``Derived`` need is loaded by running its own ``derive`` step the same way, except that
  the fetches and computations it asks for are done for it alone (it runs once per key
  already). A failure of its fetch is handed to it; raising fails the derivation.
- Every request of a fetch ends after ``deadlines.fetchSeconds`` (``FetchTimedOut``; a
  referrers list may take a request per page), and every fetch is counted by host and
  outcome (ok, not_found, error, timeout). A 404 is the value None; it is cached
  for the failure ttl only, as a failure would be, so a tag pushed later is seen soon.
- Needs asked together are met concurrently, at most ``MAX_CONCURRENT`` at a time (a hostile
  signature manifest may name thousands of payload blobs); the first failure among them ends
  the wait for the others, which get the same failure (a failing role fetch cancels its
  siblings). A failure of a need the step judges later (``Needs.later``) ends no wait: the
  others keep their own outcomes.
- A step that asks again for a fact it was given, or returns ``Needs`` without a need, is a
  bug (it would loop): ``RuntimeError``.
- ``answer_now`` remembers a verdict with the cache entries it came from, for an ask without
  pull-secret logins whose validator ``reuses_verdict``. While each of those entries is still
  the live one (the same object: not expired, evicted or loaded again), the verdict is given
  again without the step, counted as the same hits; otherwise the step runs. So the memory
  never outlives a fact, and a reload that builds the validator anew starts it empty. At most
  ``MAX_REMEMBERED`` verdicts, the oldest forgotten first.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

import attrs
import trio

from kenner.admission.image import ImageRef
from kenner.admission.verdict import Verdict
from kenner.config.model import RuleOptions
from kenner.errors import KennerError
from kenner.net.cache import Cached, CachedFailure, CacheStatistics
from kenner.net.loader import CachedLoader, Loaded
from kenner.net.singleflight import SingleFlightStatistics
from kenner.oci.dockerconfig import RegistryLogins
from kenner.offload import in_worker_thread
from kenner.validators.base import Ask, Validator
from kenner.validators.needs import (
    FETCHES,
    Compute,
    Derived,
    FetchTimedOut,
    Need,
    Needs,
    SharedVersions,
)
from kenner.validators.network import Network

V = TypeVar("V")
MAX_CONCURRENT = 16  # needs met at once for one step
MAX_REMEMBERED = 4096  # answer_now's verdicts, with the cache entries each came from
Outcome = Cached[Any] | CachedFailure
NeedCache = CachedLoader[Need[Any], Any]


class Driven(Protocol):
    """What the admission pipeline asks of a configured validator (a ``Driver``)."""

    @property
    def name(self) -> str: ...

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        """The verdict from the cache alone, or None (see the module)."""
        ...

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        """The verdict, meeting every need (see the module)."""
        ...


@attrs.frozen
class Links:
    """How a validator with needs reaches the world: its network, its cache with single-flight
    (in the background nursery), and the deadline of each fetch."""

    network: Network
    loader: NeedCache
    fetch_s: float
    # The replicas' shared rollback memory (``cache.redis``), for ``SharedVersions`` needs.
    shared_versions: Callable[[SharedVersions], Awaitable[Mapping[str, int] | None]] | None = None


class Driver:
    """Drives one validator's step (a validator without needs, like ``static``, needs no
    ``links``)."""

    def __init__(self, validator: Validator, links: Links | None = None) -> None:
        self.validator = validator
        self._links = links
        self._fetches: collections.Counter[tuple[str, str]] = collections.Counter()
        # (image, id of the rule's options) -> _Remembered; the entry holds the options object,
        # so no other object can take its id while the entry lives.
        self._remembered: dict[tuple[ImageRef, int], _Remembered] = {}

    @property
    def name(self) -> str:
        return self.validator.name

    def cache_statistics(self) -> CacheStatistics:
        """The cache's counters (read by the metrics collector)."""
        if self._links is None:
            return CacheStatistics(0, 0, 0, 0, 0)
        return self._links.loader.cache_statistics()

    def flight_statistics(self) -> SingleFlightStatistics:
        """Loads started and answers that joined one (read by the metrics collector)."""
        if self._links is None:
            return SingleFlightStatistics(0, 0, 0)
        return self._links.loader.flight_statistics()

    def fetch_statistics(self) -> dict[tuple[str, str], int]:
        """Fetches so far by (host, outcome: ok, not_found, error, timeout)."""
        return dict(self._fetches)

    def answer_now(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict | None:
        if self._links is None:  # a validator without needs (static): no facts to look at
            answer = self.validator.step(Ask(image, options, pull_logins), _NO_FACTS)
            return None if isinstance(answer, Needs) else answer
        loader = self._links.loader
        key = (image, id(options))
        remembered = self._remembered.get(key) if pull_logins is None else None
        if remembered is not None and remembered.still_holds(options, loader):
            for need, _ in remembered.facts:
                loader.record_hit(need)
            return remembered.verdict
        ask = Ask(image, options, pull_logins)
        facts = _Peeked(loader)
        answer = self.validator.step(ask, facts)
        if isinstance(answer, Needs):
            return None
        facts.record_hits()
        if pull_logins is None and self.validator.reuses_verdict(ask):
            self._remember(key, _Remembered(options, answer, facts.read()))
        return answer

    def _remember(self, key: tuple[ImageRef, int], remembered: _Remembered) -> None:
        self._remembered.pop(key, None)
        if len(self._remembered) >= MAX_REMEMBERED:
            del self._remembered[next(iter(self._remembered))]
        self._remembered[key] = remembered

    async def answer(
        self, image: ImageRef, options: RuleOptions, pull_logins: RegistryLogins | None = None
    ) -> Verdict:
        facts, ask = _Gathered(), Ask(image, options, pull_logins)
        while True:
            answer = self.validator.step(ask, facts)
            if not isinstance(answer, Needs):
                return answer
            await _meet(answer, facts, self._shared)

    async def _shared(self, need: Need[Any]) -> Outcome:
        """The cached outcome of ``need``, else that of its one load for every caller."""
        loader = self._require_links().loader
        return await loader.outcome(need, lambda: self._load(need))

    async def _alone(self, need: Need[Any]) -> Outcome:
        """A derivation's need: fetched or computed for it alone; a derived one is shared."""
        if isinstance(need, Derived):
            return await self._shared(need)
        try:
            return Cached((await self._load(need)).value)
        except KennerError as error:
            return CachedFailure(error, error.__traceback__)

    async def _load(self, need: Need[Any]) -> Loaded[Any]:
        if isinstance(need, Derived):
            return await self._derive(need)
        if isinstance(need, Compute):
            run = cast(Callable[[], object], need.run)
            return Loaded(await in_worker_thread(run) if need.in_thread else run())
        if isinstance(need, SharedVersions):
            shared = self._require_links().shared_versions
            return Loaded(None if shared is None else await shared(need))
        if isinstance(need, FETCHES):
            value = await self._fetch(need)
            if value is None:  # a 404 is remembered no longer than a failure
                return Loaded(None, ttl_s=self._require_links().loader.failure_ttl_s)
            return Loaded(value)
        raise TypeError(f"a step asked for something no driver meets: {need!r}")

    async def _derive(self, need: Derived[V]) -> Loaded[V]:
        facts = _Gathered()
        while True:
            answer = need.derive(facts)
            if isinstance(answer, Loaded):
                return answer
            await _meet(answer, facts, self._alone)

    async def _fetch(self, need: Need[Any]) -> object:
        links = self._require_links()
        host = links.network.host(need)
        try:
            value = await links.network.fetch(need, links.fetch_s)
        except trio.TooSlowError:
            self._fetches[(host, "timeout")] += 1
            reason = f"no answer within {links.fetch_s:g} s"
            raise FetchTimedOut(links.network.location(need), reason) from None
        except KennerError:
            self._fetches[(host, "error")] += 1
            raise
        self._fetches[(host, "ok" if value is not None else "not_found")] += 1
        return value

    def _require_links(self) -> Links:
        if self._links is None:
            raise TypeError(f"validator {self.name!r} asked for a need but has no links")
        return self._links


async def _meet(
    asked: Needs,
    facts: _Gathered,
    outcome_of: Callable[[Need[Any]], Awaitable[Outcome]],
) -> None:
    """Put the outcome of each need ``asked`` into ``facts``, concurrently; the first failure
    of a need not judged later ends the wait for the others, which get that failure (see the
    module)."""
    needs = asked.needs
    if not needs:
        raise RuntimeError("a step returned Needs without a need (it would loop)")
    for need in needs:
        if facts.get(need) is not None:
            raise RuntimeError(f"a step asked again for a fact it was given: {need!r}")
    if len(needs) == 1:
        facts.put(needs[0], await outcome_of(needs[0]))
        return
    failures: list[CachedFailure] = []
    limiter = trio.CapacityLimiter(MAX_CONCURRENT)

    async def meet_one(need: Need[Any], cancel_scope: trio.CancelScope) -> None:
        async with limiter:
            outcome = await outcome_of(need)
        facts.put(need, outcome)
        if isinstance(outcome, CachedFailure) and need not in asked.later:
            failures.append(outcome)
            cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for need in dict.fromkeys(needs):  # each distinct need once, in the asked order
            nursery.start_soon(meet_one, need, nursery.cancel_scope)
    if failures:
        for need in needs:
            if facts.get(need) is None:
                facts.put(need, failures[0])


class _Gathered:
    """The outcomes got for one answer (or derivation), whatever the cache keeps."""

    def __init__(self) -> None:
        self._outcomes: dict[Need[Any], Outcome] = {}

    def get(self, need: Need[V]) -> Cached[V] | CachedFailure | None:
        return self._outcomes.get(need)

    def put(self, need: Need[Any], outcome: Outcome) -> None:
        self._outcomes[need] = outcome


class _Peeked:
    """The cache's live entries, read without counting; ``record_hits`` counts those used."""

    __slots__ = ("_loader", "_used")

    def __init__(self, loader: NeedCache) -> None:
        self._loader = loader
        self._used: list[tuple[Need[Any], Outcome]] = []

    def get(self, need: Need[V]) -> Cached[V] | CachedFailure | None:
        outcome = self._loader.peek(need)
        if outcome is not None:
            self._used.append((need, outcome))
        return outcome

    def record_hits(self) -> None:
        for need, _ in self._used:
            self._loader.record_hit(need)

    def read(self) -> tuple[tuple[Need[Any], Outcome], ...]:
        """Each fact the step was given, with the cache entry's outcome it was given."""
        return tuple(self._used)


@attrs.frozen
class _Remembered:
    """A verdict of ``answer_now`` and the facts it came from (see the module)."""

    options: RuleOptions
    verdict: Verdict
    facts: tuple[tuple[Need[Any], Outcome], ...]

    def still_holds(self, options: RuleOptions, loader: NeedCache) -> bool:
        """Whether the rule's options are the same object and every fact the same entry."""
        return options is self.options and all(
            loader.peek(need) is outcome for need, outcome in self.facts
        )


class _Nothing:
    """No facts at all: what a validator without links is given."""

    __slots__ = ()

    def get(self, need: Need[V]) -> Cached[V] | CachedFailure | None:
        return None


_NO_FACTS = _Nothing()
