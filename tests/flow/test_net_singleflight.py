"""SingleFlight under trio's virtual clock: sharing, waiter deadlines, failures, shutdown."""

from __future__ import annotations

import traceback

import pytest
import trio
import trio.testing

from kenner.net.singleflight import SingleFlight, WorkAbandoned


class Boom(Exception):
    pass


def counting_work(calls: list[float], seconds: float, value: str = "v"):
    async def work() -> str:
        calls.append(trio.current_time())
        await trio.sleep(seconds)
        return value

    return work


async def test_200_concurrent_callers_share_one_execution(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    flights: SingleFlight[str, str] = SingleFlight(background, work_deadline_s=10)
    calls: list[float] = []
    results: list[tuple[str, float]] = []
    start = trio.current_time()

    async def caller() -> None:
        value = await flights.run("key", counting_work(calls, 2.0))
        results.append((value, trio.current_time()))

    async with trio.open_nursery() as callers:
        for _ in range(200):
            callers.start_soon(caller)

    assert calls == [start]
    assert results == [("v", start + 2.0)] * 200
    stats = flights.statistics()
    assert (stats.started, stats.joined, stats.in_flight) == (1, 199, 0)


async def test_different_keys_run_concurrently(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    flights: SingleFlight[str, str] = SingleFlight(background, work_deadline_s=10)
    calls: list[float] = []
    start = trio.current_time()
    async with trio.open_nursery() as callers:
        callers.start_soon(flights.run, "a", counting_work(calls, 3.0))
        callers.start_soon(flights.run, "b", counting_work(calls, 3.0))
    assert calls == [start, start]
    assert trio.current_time() == start + 3.0
    assert flights.statistics().started == 2


async def test_a_waiter_giving_up_does_not_cancel_the_shared_work(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    flights: SingleFlight[str, str] = SingleFlight(background, work_deadline_s=10)
    finished_at: list[float] = []
    start = trio.current_time()

    async def work() -> str:
        await trio.sleep(5)
        finished_at.append(trio.current_time())
        return "done"

    with trio.move_on_after(1) as impatient:
        await flights.run("key", work)
    assert impatient.cancelled_caught
    assert trio.current_time() == start + 1
    assert flights.statistics().in_flight == 1

    # A second caller joins the still-running execution and gets its value at t=5.
    assert await flights.run("key", work) == "done"
    assert finished_at == [start + 5]
    assert trio.current_time() == start + 5
    assert flights.statistics().started == 1


async def test_a_waiter_with_fail_after_gets_too_slow(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    flights: SingleFlight[str, str] = SingleFlight(background, work_deadline_s=10)
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(0.5):
            await flights.run("key", counting_work([], 3.0))


async def test_failure_reaches_every_waiter_as_the_same_exception(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    failures: list[tuple[str, Exception]] = []
    flights: SingleFlight[str, str] = SingleFlight(
        background, work_deadline_s=10, on_failure=lambda key, exc: failures.append((key, exc))
    )
    seen: list[BaseException] = []

    async def work() -> str:
        await trio.sleep(1)
        raise Boom("the notary said no")

    async def caller() -> None:
        try:
            await flights.run("key", work)
        except Boom as exc:
            seen.append(exc)

    async with trio.open_nursery() as callers:
        for _ in range(5):
            callers.start_soon(caller)

    assert len(seen) == 5
    assert all(exc is seen[0] for exc in seen)
    assert failures == [("key", seen[0])]
    # Repeated raises of the shared object do not pile up traceback entries.
    depths = {len(traceback.extract_tb(exc.__traceback__)) for exc in seen}
    assert len(depths) == 1


async def test_work_deadline_fails_the_work_in_the_background(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    failures: list[Exception] = []
    flights: SingleFlight[str, str] = SingleFlight(
        background, work_deadline_s=3, on_failure=lambda key, exc: failures.append(exc)
    )
    start = trio.current_time()
    with pytest.raises(trio.TooSlowError):
        await flights.run("key", counting_work([], 100.0))
    assert trio.current_time() == start + 3
    assert [type(exc) for exc in failures] == [trio.TooSlowError]


async def test_none_is_a_value(
    autojump_clock: trio.testing.MockClock, background: trio.Nursery
) -> None:
    flights: SingleFlight[str, str | None] = SingleFlight(background, work_deadline_s=1)

    async def work() -> str | None:
        await trio.sleep(0.1)
        return None

    assert await flights.run("key", work) is None


async def test_cancelled_background_delivers_work_abandoned(
    autojump_clock: trio.testing.MockClock,
) -> None:
    failures: list[Exception] = []
    outcomes: list[BaseException] = []
    start = trio.current_time()

    async with trio.open_nursery() as callers, trio.open_nursery() as background:
        flights: SingleFlight[str, str] = SingleFlight(
            background, work_deadline_s=10, on_failure=lambda key, exc: failures.append(exc)
        )

        async def waiter() -> None:
            try:
                await flights.run("key", counting_work([], 5.0))
            except WorkAbandoned as exc:
                outcomes.append(exc)

        # The waiter lives outside the background nursery: only the work is cancelled.
        callers.start_soon(waiter)
        await trio.sleep(1)
        background.cancel_scope.cancel()

    assert [str(exc) for exc in outcomes] == ["the shared work for 'key' was cancelled"]
    assert trio.current_time() == start + 1
    # Shutdown is not a failure of the work: nothing to remember.
    assert failures == []
    assert flights.statistics().in_flight == 0
