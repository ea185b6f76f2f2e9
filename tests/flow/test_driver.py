"""The validator driver: one step, answered from the cache alone or by meeting its needs.

The step here reads two dependent facts, as the cosign validator does: a tag's digest, then
that digest's signer, each a fetch from a scripted network that takes virtual time, so a
cached answer is seen to take none. Statistics are the driver's one cache's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from kenner.admission.image import parse_image
from kenner.admission.verdict import Trusted, Untrusted, Verdict
from kenner.config.model import RuleOptions
from kenner.net.cache import CacheStatistics, TtlCache, unwrap
from kenner.net.errors import FetchError
from kenner.net.loader import CachedLoader, Loaded
from kenner.oci.dockerconfig import RegistryLogins
from kenner.validators.base import Ask
from kenner.validators.driver import MAX_CONCURRENT, MAX_REMEMBERED, Driver, Links, NeedCache
from kenner.validators.needs import Blob, Compute, Derived, Facts, Need, Needs

LOAD_S = 1.0
REGISTRY = "registry.kenner.test"
IMAGE = parse_image(f"{REGISTRY}/team/app:v1")


class Unreachable(FetchError):  # an expected failure: remembered like one
    pass


def blob(name: str) -> Blob:
    return Blob(REGISTRY, "team/app", name, 1024, None)


@attrs.define
class ScriptedNetwork:
    """Serves ``Blob`` needs by name from ``table`` after ``LOAD_S``; logs every fetch."""

    table: Mapping[str, bytes | None]
    fetched: list[str] = attrs.Factory(list)
    bug: bool = False

    def host(self, need: Need[Any]) -> str:
        return REGISTRY

    def location(self, need: Need[Any]) -> str:
        assert isinstance(need, Blob)
        return f"{REGISTRY}/{need.digest}"

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        assert isinstance(need, Blob)
        self.fetched.append(need.digest)
        await trio.sleep(LOAD_S)
        if self.bug:
            raise ValueError("a bug in the fetch")
        if need.digest not in self.table:
            raise Unreachable(self.location(need), "not there")
        return self.table[need.digest]


class TwoStep:
    """Trusted('<digest>') when the tag's digest has a signer; the failure's text otherwise."""

    name = "two-step"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        try:
            tag = facts.get(blob(f"tag:{ask.image.tag}"))
            if tag is None:
                return Needs.of(blob(f"tag:{ask.image.tag}"))
            digest = unwrap(tag)
            if digest is None:
                return Untrusted("no such tag")
            signer = facts.get(blob(digest.decode()))
            if signer is None:
                return Needs.of(blob(digest.decode()))
            if unwrap(signer) is None:
                return Untrusted("unsigned")
        except Unreachable as error:
            return Untrusted(f"denied: {error}")
        return Trusted(digest.decode())


TABLE = {"tag:v1": b"sha256:aaa", "sha256:aaa": b"alice", "tag:v3": None}


@attrs.define
class Rig:
    driver: Driver
    network: ScriptedNetwork
    cache: TtlCache[Any, Any]

    def statistics(self) -> CacheStatistics:
        return self.driver.cache_statistics()


def rig(background: trio.Nursery, step: Any = None, *, ttl_s: float = 60.0, **net: Any) -> Rig:
    network = ScriptedNetwork(net.pop("table", TABLE), **net)
    cache: TtlCache[Any, Any] = TtlCache(ttl_s=ttl_s, failure_ttl_s=5.0, max_entries=10)
    loader: NeedCache = CachedLoader(cache, background, work_deadline_s=30.0)
    return Rig(Driver(step or TwoStep(), Links(network, loader, fetch_s=10.0)), network, cache)


def _stats(hits: int = 0, failure_hits: int = 0, misses: int = 0, size: int = 0) -> Any:
    return CacheStatistics(
        hits=hits, failure_hits=failure_hits, misses=misses, evictions=0, size=size
    )


OPTIONS = RuleOptions()


async def test_cold_loads_each_fact_once_then_the_cache_answers_without_waiting(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background)
    assert r.driver.answer_now(IMAGE, OPTIONS) is None
    assert r.statistics() == _stats()  # a look that fails counts nothing
    start = trio.current_time()
    loaded = await r.driver.answer(IMAGE, OPTIONS)
    assert loaded == Trusted("sha256:aaa")
    assert trio.current_time() - start == 2 * LOAD_S  # the second fact needs the first
    assert r.network.fetched == ["tag:v1", "sha256:aaa"]
    assert r.statistics() == _stats(misses=2, size=2)
    start = trio.current_time()
    assert r.driver.answer_now(IMAGE, OPTIONS) == loaded
    assert trio.current_time() == start
    assert r.statistics() == _stats(hits=2, misses=2, size=2)
    assert r.driver.fetch_statistics() == {(REGISTRY, "ok"): 2}


async def test_a_partial_hit_counts_only_what_the_loading_path_then_counts(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background)
    await r.driver.answer(IMAGE, OPTIONS)
    r.cache.invalidate(blob("sha256:aaa"))
    before = r.statistics()
    assert r.driver.answer_now(IMAGE, OPTIONS) is None
    assert r.statistics() == before
    assert await r.driver.answer(IMAGE, OPTIONS) == Trusted("sha256:aaa")
    # One answer: one tag hit and one signer miss, as without the fast path.
    assert r.statistics() == _stats(hits=1, misses=3, size=2)


async def test_a_remembered_failure_gives_the_same_answer_and_counts_a_failure_hit(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background)
    image = parse_image(f"{REGISTRY}/team/app:v2")
    loaded = await r.driver.answer(image, OPTIONS)
    assert loaded == Untrusted(f"denied: {REGISTRY}/tag:v2: not there")
    assert r.driver.answer_now(image, OPTIONS) == loaded
    assert r.statistics() == _stats(failure_hits=1, misses=1, size=1)
    assert r.network.fetched == ["tag:v2"]
    await trio.sleep(5.0)  # the failure ttl
    assert r.driver.answer_now(image, OPTIONS) is None


async def test_a_404_is_remembered_for_the_failure_ttl_only(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background)
    image = parse_image(f"{REGISTRY}/team/app:v3")
    assert await r.driver.answer(image, OPTIONS) == Untrusted("no such tag")
    assert r.driver.answer_now(image, OPTIONS) == Untrusted("no such tag")
    assert r.driver.fetch_statistics() == {(REGISTRY, "not_found"): 1}
    await trio.sleep(5.0)
    assert r.driver.answer_now(image, OPTIONS) is None


async def test_facts_expire_from_the_fast_path_with_the_cache(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background)
    await r.driver.answer(IMAGE, OPTIONS)
    # Now is 2 LOAD_S after the start; the tag was cached at LOAD_S and expires first.
    await trio.sleep(60.0 - LOAD_S - 0.001)
    assert r.driver.answer_now(IMAGE, OPTIONS) is not None
    await trio.sleep(0.001)
    assert r.driver.answer_now(IMAGE, OPTIONS) is None


async def test_without_a_cache_the_loading_path_still_ends(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background, ttl_s=0.0)  # keeps nothing: facts live in the answer only
    for _ in range(2):
        assert await r.driver.answer(IMAGE, OPTIONS) == Trusted("sha256:aaa")
        assert r.driver.answer_now(IMAGE, OPTIONS) is None
    assert r.network.fetched == ["tag:v1", "sha256:aaa"] * 2


async def test_an_unexpected_error_is_raised_but_not_remembered(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    """A bug in a fetch reaches the caller, and is never cached as an outcome (issue 11
    point 12): the cache-only path finds nothing, so the next request loads again."""
    r = rig(background, bug=True)
    with pytest.raises(ValueError, match="a bug in the fetch"):
        await r.driver.answer(IMAGE, OPTIONS)
    assert r.driver.answer_now(IMAGE, OPTIONS) is None
    assert r.statistics() == _stats(misses=1, size=0)


class AsksTwice:
    name = "asks-twice"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        return Needs.of(blob("tag:v1"))  # whatever it was given


class AsksNothing:
    name = "asks-nothing"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        return Needs(())


async def test_a_step_that_returns_no_need_is_a_bug_not_a_loop(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background, AsksNothing())
    with pytest.raises(RuntimeError, match="without a need"):
        await r.driver.answer(IMAGE, OPTIONS)


async def test_a_step_that_asks_again_for_a_fact_it_has_is_a_bug_not_a_loop(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background, AsksTwice())
    with pytest.raises(RuntimeError, match="asked again"):
        await r.driver.answer(IMAGE, OPTIONS)
    assert r.network.fetched == ["tag:v1"]


@attrs.frozen
class Joined(Derived[str]):
    """The tag's digest and its signer, joined (a derived value of its own kind)."""

    tag: str | None

    def derive(self, facts: Facts) -> Loaded[str] | Needs:
        parts = [blob("tag:v1"), blob("sha256:aaa")]
        missing = [part for part in parts if facts.get(part) is None]
        if missing:
            return Needs(tuple(missing))  # both at once
        tag, signer = (unwrap(facts.get(part)) for part in parts)  # type: ignore[arg-type]
        joined = Compute("join", lambda: f"{tag!r} by {signer!r}")
        outcome = facts.get(joined)
        if outcome is None:
            return Needs.of(joined)
        return Loaded(unwrap(outcome), ttl_s=30.0)


@attrs.define
class Derives:
    """Trusted with a digest derived from two fetches and a computation (``Derived``)."""

    name: str = "derives"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        need = Joined(ask.image.tag)
        outcome = facts.get(need)
        if outcome is None:
            return Needs.of(need)
        try:
            return Trusted(unwrap(outcome))
        except FetchError as error:
            return Untrusted(str(error))


async def test_a_derived_fact_is_derived_once_for_concurrent_answers_and_cached(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    validator = Derives()
    r = rig(background, validator)
    verdicts: list[Verdict] = []

    async def ask() -> None:
        verdicts.append(await r.driver.answer(IMAGE, OPTIONS))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(200):
            nursery.start_soon(ask)
    expected = Trusted("b'sha256:aaa' by b'alice'")
    assert verdicts == [expected] * 200
    assert trio.current_time() - start == LOAD_S  # the two fetches of a step run together
    assert sorted(r.network.fetched) == ["sha256:aaa", "tag:v1"]  # once each
    assert r.driver.flight_statistics().started == 1
    assert r.driver.flight_statistics().joined == 199
    # The derivation's own facts are not cached: only the derived value is.
    assert r.statistics().size == 1
    assert r.driver.answer_now(IMAGE, OPTIONS) == expected
    await trio.sleep(30.0)  # the derivation's own ttl bound
    assert r.driver.answer_now(IMAGE, OPTIONS) is None


async def test_a_failing_fetch_of_a_derivation_fails_it_and_is_remembered(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    r = rig(background, Derives(), table={"sha256:aaa": b"alice"})  # no tag: Unreachable
    verdict = await r.driver.answer(IMAGE, OPTIONS)
    assert verdict == Untrusted(f"{REGISTRY}/tag:v1: not there")
    assert r.driver.answer_now(IMAGE, OPTIONS) == verdict  # remembered as a failure
    assert r.statistics().failure_hits == 1


@attrs.define
class ManyBlobs:
    """Asks for ``count`` blobs at once (a signature manifest naming many payloads)."""

    count: int
    name: str = "many"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        needs = [blob(f"sha256:{n}") for n in range(self.count)]
        missing = [need for need in needs if facts.get(need) is None]
        return Needs(tuple(missing)) if missing else Trusted()


@attrs.define
class CountingNetwork(ScriptedNetwork):
    running: int = 0
    most: int = 0

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await trio.sleep(LOAD_S)
            return b"payload"
        finally:
            self.running -= 1


async def test_needs_asked_together_are_met_at_most_max_concurrent_at_a_time(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    network = CountingNetwork({})
    cache: TtlCache[Any, Any] = TtlCache(ttl_s=60.0, max_entries=1000)
    loader: NeedCache = CachedLoader(cache, background, work_deadline_s=300.0)
    driver = Driver(ManyBlobs(100), Links(network, loader, fetch_s=10.0))
    start = trio.current_time()
    assert await driver.answer(IMAGE, OPTIONS) == Trusted()
    assert network.most == MAX_CONCURRENT
    assert trio.current_time() - start == -(-100 // MAX_CONCURRENT) * LOAD_S


@attrs.define
class CountedSteps(TwoStep):
    """TwoStep, counting its steps; ``pure`` is what ``reuses_verdict`` answers."""

    pure: bool = True
    steps: int = 0

    def reuses_verdict(self, ask: Ask) -> bool:
        return self.pure

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        self.steps += 1
        return super().step(ask, facts)


async def test_a_warm_verdict_is_given_again_without_the_step_while_its_facts_stand(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    counted = CountedSteps()
    r = rig(background, counted)
    loaded = await r.driver.answer(IMAGE, OPTIONS)
    assert r.driver.answer_now(IMAGE, OPTIONS) == loaded  # the step runs once more, and is kept
    steps = counted.steps
    for _ in range(3):
        assert r.driver.answer_now(IMAGE, OPTIONS) == loaded
    assert counted.steps == steps
    # Counted as the step's answers would be: both facts, each time.
    assert r.statistics() == _stats(hits=2 * 4, misses=2, size=2)


async def test_a_remembered_verdict_ends_with_any_fact_it_came_from(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    """The tag expires and is loaded again pointing elsewhere: the old verdict is not given."""
    table = dict(TABLE)
    counted = CountedSteps()
    r = rig(background, counted, table=table)
    assert await r.driver.answer(IMAGE, OPTIONS) == Trusted("sha256:aaa")
    assert r.driver.answer_now(IMAGE, OPTIONS) == Trusted("sha256:aaa")
    table["tag:v1"] = b"sha256:bbb"  # moved to an unsigned digest
    autojump_clock.jump(61.0)  # past the ttl of both facts
    assert r.driver.answer_now(IMAGE, OPTIONS) is None
    assert await r.driver.answer(IMAGE, OPTIONS) == Untrusted(
        "denied: registry.kenner.test/sha256:bbb: not there"
    )
    assert r.driver.answer_now(IMAGE, OPTIONS) == Untrusted(
        "denied: registry.kenner.test/sha256:bbb: not there"
    )


async def test_a_fact_loaded_again_unexpired_still_ends_the_remembered_verdict(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    """Identity, not equality: a new cache entry, even of the same value, runs the step."""
    counted = CountedSteps()
    r = rig(background, counted)
    await r.driver.answer(IMAGE, OPTIONS)
    assert r.driver.answer_now(IMAGE, OPTIONS) is not None
    steps = counted.steps
    r.cache.put(blob("sha256:aaa"), b"alice")  # the same signer, loaded anew
    assert r.driver.answer_now(IMAGE, OPTIONS) == Trusted("sha256:aaa")
    assert counted.steps == steps + 1


async def test_no_verdict_is_remembered_for_a_clock_reading_step_pull_logins_or_other_options(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    counted = CountedSteps(pure=False)
    r = rig(background, counted)
    await r.driver.answer(IMAGE, OPTIONS)
    steps = counted.steps
    for _ in range(3):
        assert r.driver.answer_now(IMAGE, OPTIONS) == Trusted("sha256:aaa")
    assert counted.steps == steps + 3

    counted = CountedSteps()
    r = rig(background, counted)
    await r.driver.answer(IMAGE, OPTIONS)
    steps = counted.steps
    logins = RegistryLogins()
    for _ in range(3):
        assert r.driver.answer_now(IMAGE, OPTIONS, logins) == Trusted("sha256:aaa")
    assert counted.steps == steps + 3
    r.driver.answer_now(IMAGE, OPTIONS)  # remembered for these options ...
    steps = counted.steps
    equal_but_other = RuleOptions()  # ... a reload's rule is another object, even if equal
    assert equal_but_other == OPTIONS
    assert r.driver.answer_now(IMAGE, equal_but_other) == Trusted("sha256:aaa")
    assert counted.steps == steps + 1


@attrs.define
class CountedFixed:
    """Trusted for every image, from no fact: what the bound test remembers."""

    name: str = "fixed"
    steps: int = 0

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        self.steps += 1
        return Trusted()


async def test_at_most_max_remembered_verdicts_the_oldest_forgotten_first(
    background: trio.Nursery,
) -> None:
    counted = CountedFixed()
    r = rig(background, counted)
    images = [parse_image(f"{REGISTRY}/team/app:v{n}") for n in range(MAX_REMEMBERED + 1)]
    for image in images:
        r.driver.answer_now(image, OPTIONS)
    steps = counted.steps
    r.driver.answer_now(images[-1], OPTIONS)  # still remembered
    assert counted.steps == steps
    r.driver.answer_now(images[0], OPTIONS)  # the oldest, forgotten
    assert counted.steps == steps + 1


class SlowSigner(ScriptedNetwork):
    """The signer blob takes twice as long as any other fetch."""

    async def fetch(self, need: Need[Any], fetch_s: float) -> object:
        if isinstance(need, Blob) and need.digest == "sha256:aaa":
            await trio.sleep(LOAD_S)
        return await super().fetch(need, fetch_s)


@attrs.define
class JudgesLater:
    """Asks for a signer and, beside it, a fact judged only after it (as cosign asks for
    attestations beside signatures); the verdict names the first failure it judges."""

    later: bool
    name: str = "judges-later"

    def reuses_verdict(self, ask: Ask) -> bool:
        return True

    def step(self, ask: Ask, facts: Facts) -> Verdict | Needs:
        signer, extra = blob("sha256:aaa"), blob("tag:gone")
        signed, added = facts.get(signer), facts.get(extra)
        if signed is None or added is None:
            return Needs((signer, extra), later=frozenset({extra} if self.later else ()))
        try:
            name = unwrap(signed)
        except Unreachable as error:
            return Untrusted(f"signer: {error}")
        try:
            unwrap(added)
        except Unreachable as error:
            return Untrusted(f"then: {error}")
        return Trusted(repr(name))


@pytest.mark.parametrize("later", [True, False])
async def test_a_need_judged_later_fails_without_ending_the_wait_for_the_others(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery, later: bool
) -> None:
    cache: TtlCache[Any, Any] = TtlCache(ttl_s=60.0, failure_ttl_s=5.0, max_entries=10)
    loader: NeedCache = CachedLoader(cache, background, work_deadline_s=30.0)
    driver = Driver(JudgesLater(later), Links(SlowSigner(TABLE), loader, fetch_s=10.0))
    start = trio.current_time()
    verdict = await driver.answer(IMAGE, OPTIONS)
    gone = f"{REGISTRY}/tag:gone: not there"
    if later:  # the signer keeps its own outcome, judged first
        assert verdict == Untrusted(f"then: {gone}")
        assert trio.current_time() - start == 2 * LOAD_S
    else:  # the first failure ends the wait for the signer, which gets that failure
        assert verdict == Untrusted(f"signer: {gone}")
        assert trio.current_time() - start == LOAD_S
