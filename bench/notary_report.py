"""The Notary v1 scenario's own output: latency and requests to Notary per cache state."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import attrs

from bench.notary_log import FetchSummary
from bench.report import aligned
from bench.server_log import describe_samples, new_connections


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
    new = new_connections(states.miss_first.fetches, [sample.fetches for sample in misses])
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
            f"{misses[0].fetches.connections} ({new} new)",
            str(misses[0].fetches.rounds),
        ),
        ("warm: cached (the table's rounds)", str(answered), "-", "-", str(warm.count), "-", "-"),
    ]
    return [
        f"{name}: requests to notary-server, counted in its log; expected per cold validation:",
        f"  4 per repository in round 1 + the required delegations in round 2 = {expected}.",
        "  Notary req.: per validation (cold, cache miss) or in total (warm); conns: client",
        "  connections they came over; rounds: read from the roles fetched.",
        *aligned(rows),
        f"per cold validation: {_shape(cold)}",
    ]


def _latencies(samples: Sequence[Sample]) -> tuple[str, str, str]:
    values = [sample.latency_ms for sample in samples]
    return (
        str(len(samples)),
        f"{statistics.median(values):.1f}",
        f"{min(values):.1f}-{max(values):.1f}",
    )


def _shape(samples: Sequence[Sample]) -> str:
    fetches = [sample.fetches for sample in samples]
    return describe_samples(fetches, alike="every sample fetched the same roles")
