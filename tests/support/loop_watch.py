"""How long the event loop was held: the longest single task step, by a trio instrument.

A task step is the code a task runs between two checkpoints; while it runs, no other task
(request, health probe, watchdog tick) can. Steps are measured in the event loop thread's CPU
time, which other processes on a busy test machine cannot inflate, and which a worker thread
holding the GIL does not count against the loop: work done in the loop is exactly what
stalls it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio


@attrs.define(eq=False)  # hashable by identity: trio keeps instruments in a dict
class LoopWatch(trio.abc.Instrument):
    """The longest single task step (seconds) since it was added or ``longest`` was reset."""

    longest: float = 0.0
    _started: float = 0.0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started = time.thread_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.longest = max(self.longest, time.thread_time() - self._started)


@asynccontextmanager
async def watching_the_loop() -> AsyncIterator[LoopWatch]:
    """A ``LoopWatch`` on the running trio loop for the duration of the block."""
    watch = LoopWatch()
    trio.lowlevel.add_instrument(watch)
    try:
        yield watch
    finally:
        trio.lowlevel.remove_instrument(watch)
