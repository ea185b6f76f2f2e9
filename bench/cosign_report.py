"""The cosign scenarios' own output: latency and requests to the registry per cache state."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from bench import server_log
from bench.cosign_log import RegistrySummary
from bench.report import aligned
from bench.server_log import describe_samples, latencies, new_connections

Sample = server_log.Sample[RegistrySummary]
CacheStates = server_log.CacheStates[RegistrySummary]


@attrs.frozen
class Design:
    """What one cold validation of the Pod should cost by design (issue 4)."""

    images: int
    per_image: int  # requests per image: 2 by tag (tag, signature), 1 by digest
    steps: str  # those requests, in words

    @property
    def requests(self) -> int:
        """Requests for the whole Pod."""
        return self.images * self.per_image

    @property
    def rounds(self) -> int:
        """Round trips: the images are validated concurrently, their steps one after another."""
        return self.per_image


_COLUMNS = (
    "cache state",
    "samples",
    "median ms",
    "min-max ms",
    "registry req.",
    "auth/other",
    "conns",
)


def cosign_report(
    name: str, design: Design, states: CacheStates, warm: RegistrySummary, answered: int
) -> list[str]:
    """The lines printed after the main table.

    Args:
        name: the scenario's name.
        design: the requests one cold validation should need.
        states: the cold and cache-miss samples.
        warm: what reached the registry while the warm kenner answered the load.
        answered: requests the warm kenner answered meanwhile.
    """
    cold, misses = states.cold, states.misses
    first, miss = cold[0].requests, misses[0].requests
    new = new_connections(states.miss_first.requests, [sample.requests for sample in misses])
    rows = [
        _COLUMNS,
        (
            "cold: fresh kenner",
            *latencies(cold),
            _trips(first.count, first.rounds),
            str(first.auth_count),
            str(first.connections),
        ),
        (
            "cache miss: running kenner, ttlSeconds 0",
            *latencies(misses),
            _trips(miss.count, miss.rounds),
            str(miss.auth_count),
            f"{miss.connections} ({new} new)",
        ),
        (
            "warm: cached (the table's rounds)",
            str(answered),
            "-",
            "-",
            str(warm.count),
            str(warm.auth_count),
            "-",
        ),
    ]
    return [
        f"{name}: requests to docker-registry, counted in its log; expected per cold validation:",
        f"  {design.per_image} per image ({design.steps})",
        f"  x {design.images} images = {_trips(design.requests, design.rounds)}; warm: 0.",
        "  registry req.: tags, manifests and blobs, per validation (cold, cache miss) or in",
        "  total (warm); auth/other: /v2/ pings, 401 answers, other URIs (none expected: the",
        "  registry needs no login); conns: client connections; rounds: dependent steps of the",
        "  slowest image.",
        *aligned(rows),
        f"per cold validation: {_shape(cold)}",
        _verdict(design, cold, warm),
    ]


def _shape(samples: Sequence[Sample]) -> str:
    requests = [sample.requests for sample in samples]
    return describe_samples(requests, alike="every sample made the same requests")


def _trips(requests: int, rounds: int) -> str:
    return f"{requests} in {rounds} round{'' if rounds == 1 else 's'}"


def _verdict(design: Design, cold: Sequence[Sample], warm: RegistrySummary) -> str:
    measured = {(sample.requests.count, sample.requests.rounds) for sample in cold}
    expected = _trips(design.requests, design.rounds)
    if measured == {(design.requests, design.rounds)} and warm.count == 0:
        return f"design met: {expected} cold, 0 warm"
    shown = ", ".join(_trips(count, rounds) for count, rounds in sorted(measured))
    return (
        f"DESIGN NOT MET: expected {expected} cold and 0 warm, measured {shown} cold and "
        f"{warm.count} warm"
    )
