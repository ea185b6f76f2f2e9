"""The Notary v1 scenario's own output: latency and requests to Notary per cache state."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs

from bench.notary_log import FetchSummary, same_fetches


@attrs.frozen
class Sample:
    """One request's latency and the trust-data requests notary-server logged for it."""

    latency_ms: float
    fetches: FetchSummary


@attrs.frozen
class CacheStates:
    """The samples taken before the load: cold ones, and cache misses on a running kenner.

    ``miss_first`` is the first request to the kenner that caches nothing: it opens the
    connections that ``misses`` then reuse, so it is not one of them.
    """

    cold: tuple[Sample, ...]
    miss_first: Sample
    misses: tuple[Sample, ...]


_COLUMNS = ("cache state", "samples", "median ms", "min-max ms", "Notary req.", "conns", "rounds")


def notary_report(
    name: str, expected: int, states: CacheStates, warm: FetchSummary, answered: int
) -> list[str]:
    """The lines printed after the main table.

    Args:
        name: the scenario's name.
        expected: requests one cold validation should need, by design.
        states: the cold and cache-miss samples.
        warm: what reached Notary while the warm kenner answered the load.
        answered: requests the warm kenner answered meanwhile.
    """
    cold, misses = states.cold, states.misses
    new_connections = _new_connections(states.miss_first, misses)
    rows = [
        _COLUMNS,
        (
            "cold: fresh kenner",
            *_latencies(cold),
            str(cold[0].fetches.count),
            str(cold[0].fetches.connections),
            str(cold[0].fetches.rounds),
        ),
        (
            "cache miss: running kenner, ttlSeconds 0",
            *_latencies(misses),
            str(misses[0].fetches.count),
            f"{misses[0].fetches.connections} ({new_connections} new)",
            str(misses[0].fetches.rounds),
        ),
        ("warm: cached (the table's rounds)", str(answered), "-", "-", str(warm.count), "-", "-"),
    ]
    return [
        f"{name}: requests to notary-server, counted in its log; expected per cold validation:",
        f"  4 per repository in round 1 + the required delegations in round 2 = {expected}.",
        "  Notary req.: per validation (cold, cache miss) or in total (warm); conns: client",
        "  connections they came over; rounds: read from the roles fetched.",
        *_aligned(rows),
        f"per cold validation: {_shape(cold)}",
    ]


def _latencies(samples: Sequence[Sample]) -> tuple[str, str, str]:
    values = [sample.latency_ms for sample in samples]
    return (
        str(len(samples)),
        f"{statistics.median(values):.1f}",
        f"{min(values):.1f}-{max(values):.1f}",
    )


def _connections(samples: Sequence[Sample]) -> int:
    return samples[0].fetches.connections


def _new_connections(first: Sample, later: Sequence[Sample]) -> int:
    known = {fetch.client for fetch in first.fetches.fetches}
    return len({f.client for s in later for f in s.fetches.fetches} - known)


def _shape(samples: Sequence[Sample]) -> str:
    first = samples[0].fetches
    statuses = ", ".join(f"{n}x HTTP {status}" for status, n in sorted(first.statuses().items()))
    alike = same_fetches([sample.fetches for sample in samples])
    counts = ", ".join(str(sample.fetches.count) for sample in samples)
    return f"{first.per_repository()}; {statuses}; " + (
        "every sample fetched the same roles" if alike else f"SAMPLES DIFFER: {counts}"
    )


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in rows
    ]
