"""How long the event loop was held: the longest single task step, by a trio instrument.

A task step is the code a task runs between two checkpoints; while it runs, no other task
(request, health probe, watchdog tick) can. Steps are measured in the event loop thread's CPU
time, which other processes on a busy test machine cannot inflate, and which a worker thread
holding the GIL does not count against the loop: work done in the loop is exactly what
stalls it. ``while_probing_health`` measures the same from outside: how long ``/health`` waits.
``instrumented`` puts any instrument on the loop for a block.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

import attrs
import httpx
import trio

InstrumentT = TypeVar("InstrumentT", bound=trio.abc.Instrument)


@attrs.define(eq=False)  # hashable by identity: trio keeps instruments in a dict
class LoopWatch(trio.abc.Instrument):
    """The longest single task step (seconds) since it was added or ``longest`` was reset."""

    longest: float = 0.0
    _started: float = 0.0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started = time.thread_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.longest = max(self.longest, time.thread_time() - self._started)


@contextmanager
def instrumented(instrument: InstrumentT) -> Iterator[InstrumentT]:
    """``instrument`` on the running trio loop for the duration of the block."""
    trio.lowlevel.add_instrument(instrument)
    try:
        yield instrument
    finally:
        trio.lowlevel.remove_instrument(instrument)


@asynccontextmanager
async def watching_the_loop() -> AsyncIterator[LoopWatch]:
    """A ``LoopWatch`` on the running trio loop for the duration of the block."""
    with instrumented(LoopWatch()) as watch:
        yield watch


async def while_probing_health(
    client: httpx.AsyncClient, watch: LoopWatch, work: Callable[[], Awaitable[None]]
) -> list[float]:
    """Run ``work`` with ``/health`` asked every 10 ms; the probes' latencies (wall clock).

    The probing starts 50 ms before ``work``, and ``watch`` is reset then, so its ``longest``
    is the longest step while ``work`` ran.
    """
    latencies: list[float] = []

    async def probe() -> None:
        while True:
            sent = trio.current_time()
            assert (await client.get("/health")).status_code == 200
            latencies.append(trio.current_time() - sent)
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(probe)
        await trio.sleep(0.05)
        watch.longest = 0.0
        await work()
        nursery.cancel_scope.cancel()
    return latencies
