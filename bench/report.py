"""The benchmark's output: a small fixed-width table and the verdict on the target ratio."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.measure import Measurement

# The target: kenner with a static policy answers at least this share of the echo
# server's rate. The other scenarios show their ratio without a target.
TARGET_RATIO = 0.8
TARGET_SCENARIO = "kenner static"

_COLUMNS = ("scenario", "req/s", "p50 ms", "p99 ms", "vs echo", "server CPU", "first ms")


def round_ratios(measurement: Measurement, baseline: Measurement) -> list[float]:
    """``measurement``'s rate as a multiple of the baseline's, round by round."""
    return [
        mine.load.requests_per_s / theirs.load.requests_per_s
        for mine, theirs in zip(measurement.rounds, baseline.rounds, strict=True)
    ]


def ratio(measurement: Measurement, baseline: Measurement) -> float:
    """The median of the per-round ratios.

    A round measures every target back to back, so each pair shares the machine's state of
    that moment; on a shared or virtual machine, whose speed drifts by 10 % and more between
    runs, that is steadier than dividing the two medians taken from different rounds.
    """
    return statistics.median(round_ratios(measurement, baseline))


def table(measurements: Sequence[Measurement], baseline: Measurement) -> str:
    """One row per target (its median round), right-aligned numbers."""
    rows = [_COLUMNS]
    for m in measurements:
        load, cpu = m.median.load, m.median.server_cpu_percent
        rows.append(
            (
                m.name,
                f"{load.requests_per_s:.0f}",
                f"{load.p50_ms:.2f}",
                f"{load.p99_ms:.2f}",
                f"{ratio(m, baseline):.2f}x",
                "-" if cpu is None else f"{cpu:.0f}%",
                f"{m.first_request_ms:.2f}",
            )
        )
    return "\n".join(aligned(rows))


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as fixed-width lines: the first column left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in rows
    ]


def rounds_line(measurements: Sequence[Measurement]) -> str:
    """Every round's rate, so the spread behind each median is visible."""
    parts = [
        f"{m.name}: " + ", ".join(f"{r.load.requests_per_s:.0f}" for r in m.rounds)
        for m in measurements
    ]
    return "req/s per round: " + "; ".join(parts)


def ratios_line(measurements: Sequence[Measurement], baseline: Measurement) -> str:
    """Every round's ratio to the baseline's rate in the same round (their median is shown)."""
    parts = [
        f"{m.name}: " + ", ".join(f"{one:.2f}" for one in round_ratios(m, baseline))
        for m in measurements
        if m is not baseline
    ]
    return "ratio to echo per round: " + "; ".join(parts)


def verdict(measurements: Sequence[Measurement], baseline: Measurement) -> str:
    """Whether ``TARGET_SCENARIO`` (when measured) meets ``TARGET_RATIO`` of the baseline's rate."""
    lines = []
    for m in measurements:
        if m.name != TARGET_SCENARIO:
            continue
        got = ratio(m, baseline)
        state = "met" if got >= TARGET_RATIO else "NOT met"
        lines.append(f"target {m.name} >= {TARGET_RATIO:.2f}x echo: {state} ({got:.2f}x)")
    return "\n".join(lines)
