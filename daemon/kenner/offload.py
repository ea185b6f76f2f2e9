"""CPU-heavy work off the event loop: a worker thread, one at a time.

The event loop answers every request, health probe and watchdog tick, so a computation that
holds it for more than about a millisecond delays all of them. Callers move such work here:
parsing and planning a big review (``kenner.app.read``, ``kenner.app.verdicts``), verifying
big Notary trust data (``kenner.validators.notaryv1``). Each decides by a measured size
threshold, because a hop to a thread costs about 0.1-0.4 ms, a lot next to the common small
case (docs/benchmarks.md).

Rules:

- One such thread runs at a time (a ``trio.CapacityLimiter`` per ``trio.run``). Threads share
  the GIL with the event loop, and every runnable one lengthens the loop's wait for it.
- The work must not touch trio objects or state the event loop mutates: it gets its inputs
  and returns its result (or raises, and the caller sees the exception).
- A cancelled caller abandons the thread at once; the work finishes on its own, keeping its
  place until it does, and its result is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, Unpack

import trio

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_WORKERS: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("kenner_workers")


async def in_worker_thread(function: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """``function(*args)`` in a worker thread, one at a time; cancellable (see the module)."""
    try:
        limiter = _WORKERS.get()
    except LookupError:
        limiter = trio.CapacityLimiter(1)
        _WORKERS.set(limiter)
    return await trio.to_thread.run_sync(function, *args, limiter=limiter, abandon_on_cancel=True)
