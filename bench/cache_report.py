"""The lines the Notary v1 and cosign scenarios print: latency and requests per cache state.

Three states: **cold** (the first request to a fresh kenner, one per ``--cold-samples``),
**cache miss** (a running kenner with ``cache.ttlSeconds: 0``) and **warm** (the load of the
main table). For each: the samples' latency, the requests that reached the server per
validation (in all, for warm) and their round trips, then whether the cold samples and the
warm load cost what the design says.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs

from bench.errors import BenchError
from bench.report import aligned
from bench.server_log import Fetch, ServerLog, rounds


@attrs.frozen
class Sample:
    """One request's latency and kenner's requests that the server logged meanwhile."""

    latency_ms: float
    fetches: tuple[Fetch, ...]

    @property
    def cost(self) -> tuple[int, int]:
        """Requests and round trips."""
        return len(self.fetches), rounds(self.fetches)


@attrs.frozen
class Design:
    """What one cold validation of the scenario's Pod should cost, and why."""

    requests: int
    rounds: int
    why: str  # e.g. "2 per image (resolve the tag, then read the signature manifest) x 3 images"

    def __str__(self) -> str:
        return _trips((self.requests, self.rounds))


def require_counted(cold: Sequence[Sample], log: ServerLog) -> None:
    """A cold validation must reach the server: none counted means the log is not read right,
    and every "0 requests" reported would be a lie.

    Raises:
        BenchError: a cold sample with no request counted.
    """
    if any(not sample.fetches for sample in cold):
        raise BenchError(
            f"{log.path.name} logged no request from kenner for a cold validation; cannot count "
            "round trips from it"
        )


def cache_report(
    name: str,
    server: str,
    design: Design,
    states: tuple[Sequence[Sample], Sequence[Sample]],
    warm: Sequence[Fetch],
    answered: int,
) -> list[str]:
    """The lines printed after the main table.

    Args:
        name: the scenario's name.
        server: the server whose log counted the requests.
        design: one cold validation's expected cost.
        states: the cold samples and the cache-miss samples.
        warm: kenner's requests logged while the warm kenner answered the load.
        answered: requests the warm kenner answered meanwhile.
    """
    cold, misses = states
    rows = [
        ("cache state", "samples", "median ms", "min-max ms", "requests", "rounds"),
        ("cold: fresh kenner", *_latencies(cold), *_costs(cold)),
        ("cache miss: running kenner, ttlSeconds 0", *_latencies(misses), *_costs(misses)),
        ("warm: cached (the table's rounds)", str(answered), "-", "-", str(len(warm)), "-"),
    ]
    measured = sorted({sample.cost for sample in cold})
    if measured == [(design.requests, design.rounds)] and not warm:
        verdict = f"design met: {design} cold, 0 warm"
    else:
        shown = ", ".join(_trips(cost) for cost in measured)
        verdict = (
            f"DESIGN NOT MET: expected {design} cold and 0 warm, measured {shown} cold and "
            f"{len(warm)} warm"
        )
    return [
        f"{name}: kenner's requests to {server}, counted in its log, per validation (cold,",
        "  cache miss) or in all (warm); rounds: dependent steps of the slowest repository.",
        f"  Expected per cold validation: {design.why}",
        f"  = {design}; warm: 0.",
        *aligned(rows),
        verdict,
    ]


def _latencies(samples: Sequence[Sample]) -> tuple[str, str, str]:
    values = [sample.latency_ms for sample in samples]
    return (
        str(len(samples)),
        f"{statistics.median(values):.1f}",
        f"{min(values):.1f}-{max(values):.1f}",
    )


def _costs(samples: Sequence[Sample]) -> tuple[str, str]:
    """Requests and rounds per sample: one number when every sample agrees, else min-max."""
    cells = []
    for values in zip(*(sample.cost for sample in samples), strict=True):
        low, high = min(values), max(values)
        cells.append(str(low) if low == high else f"{low}-{high}")
    return cells[0], cells[1]


def _trips(cost: tuple[int, int]) -> str:
    requests, trips = cost
    return f"{requests} in {trips} round{'' if trips == 1 else 's'}"
