"""The Notary v1 scenario's own output: latency and requests to Notary per cache state."""

from __future__ import annotations

from collections.abc import Sequence

from bench import server_log
from bench.notary_log import FetchSummary
from bench.report import aligned
from bench.server_log import describe_samples, latencies, new_connections

Sample = server_log.Sample[FetchSummary]
CacheStates = server_log.CacheStates[FetchSummary]


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
    new = new_connections(states.miss_first.requests, [sample.requests for sample in misses])
    rows = [
        _COLUMNS,
        (
            "cold: fresh kenner",
            *latencies(cold),
            str(cold[0].requests.count),
            str(cold[0].requests.connections),
            str(cold[0].requests.rounds),
        ),
        (
            "cache miss: running kenner, ttlSeconds 0",
            *latencies(misses),
            str(misses[0].requests.count),
            f"{misses[0].requests.connections} ({new} new)",
            str(misses[0].requests.rounds),
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


def _shape(samples: Sequence[Sample]) -> str:
    fetches = [sample.requests for sample in samples]
    return describe_samples(fetches, alike="every sample fetched the same roles")
