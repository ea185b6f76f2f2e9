"""The driver: probe and check every target, warm it up, then measure in interleaved rounds.

Interleaving (echo, kenner, echo, kenner, ...) spreads any slow-down of the machine over all
targets instead of penalising whichever ran during it; the reported round is the median.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from bench.probe import probe
from bench.target import BenchRun, Target
from bench.wrk import Load, LoadResult, run_wrk


@attrs.frozen
class Round:
    """One wrk run against one target, with the server's CPU use during it."""

    load: LoadResult
    server_cpu_percent: float | None
    # The server's CPU time per answered request, microseconds: unlike the rate, it does not
    # depend on whether other processes left the server a whole core.
    server_cpu_us_per_request: float | None = None


@attrs.frozen
class Measurement:
    """Everything measured for one target."""

    name: str
    description: str
    first_request_ms: float
    rounds: tuple[Round, ...]
    answered: int  # every request answered: first check, warm-up and rounds
    # The server's peak resident memory from its warm-up to its last round, MiB (None where
    # /proc cannot tell).
    peak_rss_mb: float | None = None

    @property
    def median(self) -> Round:
        """The round with the median rate (the lower middle one for an even count)."""
        ordered = sorted(self.rounds, key=lambda one: one.load.requests_per_s)
        return ordered[(len(ordered) - 1) // 2]


@attrs.frozen
class Plan:
    """How to measure: the load of each round, the warm-up length and the round count."""

    load: Load
    warmup_s: int
    rounds: int


def measure(targets: Sequence[Target], plan: Plan, run: BenchRun) -> list[Measurement]:
    """Measure every target; the first answer of each must pass its check.

    Raises:
        BenchError: a check failed, or wrk reported an invalid run (see ``run_wrk``).
    """
    expected: dict[str, bytes] = {}
    first_ms: dict[str, float] = {}
    for target in targets:
        answer = probe(target.server.url, target.path, target.body, str(run.tls.ca))
        target.check(answer.status, answer.body)
        # Every later answer must equal this checked one, byte for byte (the Lua script
        # compares them), so a run cannot measure error answers.
        expected[target.name] = answer.body
        first_ms[target.name] = answer.latency_ms
    warmup = attrs.evolve(plan.load, duration_s=plan.warmup_s)
    # Peak RSS under load: from the warm-up on (Linux's VmHWM, restarted), else the highest
    # RSS seen after each run.
    peak_reset = {target.name: target.server.reset_peak_rss() for target in targets}
    rss_seen: dict[str, list[float]] = {target.name: [] for target in targets}
    answered = {
        target.name: 1 + _run_once(target, expected[target.name], warmup, run.scratch).load.requests
        for target in targets
    }
    rounds: dict[str, list[Round]] = {target.name: [] for target in targets}
    for _ in range(plan.rounds):
        for target in targets:
            rounds[target.name].append(
                _run_once(target, expected[target.name], plan.load, run.scratch)
            )
            rss = target.server.rss_mb()
            if rss is not None:
                rss_seen[target.name].append(rss)
    return [
        Measurement(
            t.name,
            t.description,
            first_ms[t.name] if t.cold_ms is None else t.cold_ms,
            tuple(rounds[t.name]),
            answered[t.name] + sum(one.load.requests for one in rounds[t.name]),
            _peak_rss(t, peak_reset[t.name], rss_seen[t.name]),
        )
        for t in targets
    ]


def _peak_rss(target: Target, reset: bool, seen: list[float]) -> float | None:
    peak = target.server.rss_mb("VmHWM") if reset else None
    return peak if peak is not None else max(seen, default=None)


def _run_once(target: Target, expected_answer: bytes, load: Load, scratch: Path) -> Round:
    cpu_before = target.server.cpu_seconds()
    started = time.perf_counter()
    result = run_wrk(target.server.url + target.path, target.body, expected_answer, load, scratch)
    elapsed = time.perf_counter() - started
    cpu_after = target.server.cpu_seconds()
    if cpu_before is None or cpu_after is None:
        return Round(result, None)
    cpu_s = cpu_after - cpu_before
    return Round(result, 100 * cpu_s / elapsed, 1e6 * cpu_s / max(result.requests, 1))
