"""Single-flight: concurrent requests for the same key share one execution.

The shared work runs in a long-lived background nursery (the daemon's), not in any caller's
task, under its own deadline. Each caller waits for the shared outcome inside its own cancel
scope, so a caller that gives up (its admission deadline passed) leaves the work running for
the others and for the cache it fills.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType
from typing import Generic, TypeVar

import attrs
import trio

from kenner.errors import KennerError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class WorkAbandoned(KennerError):
    """The shared work was cancelled from outside (the background nursery is shutting down)."""


@attrs.frozen
class SingleFlightStatistics:
    """``started``: executions begun; ``joined``: calls that waited for one already running."""

    started: int
    joined: int
    in_flight: int


@attrs.define
class _Flight(Generic[V]):
    done: trio.Event = attrs.Factory(trio.Event)
    returned: tuple[V] | None = None  # a 1-tuple, so that None can be a value
    error: Exception | None = None
    error_traceback: TracebackType | None = None


class SingleFlight(Generic[K, V]):
    """Runs at most one ``work`` per key at a time in ``nursery``, each under a deadline."""

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        work_deadline_s: float,
        on_failure: Callable[[K, Exception], None] | None = None,
    ) -> None:
        """A single-flight group whose executions run in ``nursery``.

        Args:
            nursery: the long-lived nursery the shared work runs in.
            work_deadline_s: how long one execution may take before it fails with TooSlowError.
            on_failure: called in the background with the key and the exception each time an
                execution fails (its own error or the deadline), before the waiters wake; e.g.
                to remember the failure in a cache even when every waiter has given up.
        """
        self._nursery = nursery
        self._work_deadline_s = work_deadline_s
        self._on_failure = on_failure
        self._flights: dict[K, _Flight[V]] = {}
        self._started = 0
        self._joined = 0

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """The outcome of ``work()``, or of the execution already running for ``key``.

        When a run for ``key`` is in flight, ``work`` is not called. Cancelling this call
        (the caller's deadline) does not cancel the shared execution.

        Raises:
            trio.TooSlowError: the shared work exceeded ``work_deadline_s``.
            WorkAbandoned: the background nursery was cancelled before the work finished.
            Exception: whatever ``work`` raised; every waiter gets the same exception object.
        """
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight()
            self._flights[key] = flight
            self._started += 1
            self._nursery.start_soon(self._execute, key, flight, work)
        else:
            self._joined += 1
        await flight.done.wait()
        if flight.returned is not None:
            return flight.returned[0]
        assert flight.error is not None  # _execute sets one of the two before `done`
        # Start each re-raise from the work's own traceback so repeated raises of the one
        # shared exception object do not keep growing it.
        raise flight.error.with_traceback(flight.error_traceback)

    def statistics(self) -> SingleFlightStatistics:
        """The counters since creation and the number of executions running now."""
        return SingleFlightStatistics(
            started=self._started, joined=self._joined, in_flight=len(self._flights)
        )

    async def _execute(self, key: K, flight: _Flight[V], work: Callable[[], Awaitable[V]]) -> None:
        try:
            with trio.fail_after(self._work_deadline_s):
                flight.returned = (await work(),)
        except Exception as exc:
            # Broad on purpose: whatever the work raised, bug or not, is handed to every
            # waiter, who would otherwise hang; ``on_failure`` decides what is remembered.
            flight.error = exc
            flight.error_traceback = exc.__traceback__
            if self._on_failure is not None:
                self._on_failure(key, exc)
        finally:
            del self._flights[key]
            if flight.returned is None and flight.error is None:
                # Cancelled from outside: Cancelled itself must keep propagating here, so the
                # waiters get an ordinary exception instead.
                flight.error = WorkAbandoned(f"the shared work for {key!r} was cancelled")
            flight.done.set()
