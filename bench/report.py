"""The benchmark's output: a small fixed-width table and the verdict on the targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.measure import Measurement

# The targets of issue 12 for every kenner row (warm: static, Notary v1, cosign): at least
# this share of the echo server's rate, a p99 at most this multiple of the echo's, and at
# most this peak resident memory under the load.
TARGET_RATIO = 0.8
TARGET_P99_FACTOR = 2.0
TARGET_RSS_MB = 60.0

_COLUMNS = (
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "vs echo",
    "server CPU",
    "CPU us/req",
    "RSS MB",
    "first ms",
)


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
                _cpu_per_request(m),
                "-" if m.peak_rss_mb is None else f"{m.peak_rss_mb:.1f}",
                f"{m.first_request_ms:.2f}",
            )
        )
    return "\n".join(aligned(rows))


def _cpu_per_request(measurement: Measurement) -> str:
    """The median over the rounds of the server's CPU microseconds per request."""
    values = [r.server_cpu_us_per_request for r in measurement.rounds]
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):.0f}" if known else "-"


def cpu_ratios_line(measurements: Sequence[Measurement], baseline: Measurement) -> str:
    """Per round, the echo's CPU time per request over each kenner row's: the share of the
    echo's rate the row would reach if both had a core to themselves. On a machine shared
    with other work, where a server does not get a whole core, the rate ratio measures the
    scheduler as much as the server; this one does not (both are medians of rounds)."""
    parts = []
    for m in measurements:
        if m is baseline:
            continue
        pairs = zip(m.rounds, baseline.rounds, strict=True)
        shares = [
            theirs.server_cpu_us_per_request / mine.server_cpu_us_per_request
            for mine, theirs in pairs
            if mine.server_cpu_us_per_request and theirs.server_cpu_us_per_request
        ]
        if shares:
            listed = ", ".join(f"{share:.2f}" for share in shares)
            parts.append(f"{m.name}: {statistics.median(shares):.2f}x ({listed})")
    return "echo's CPU per request over kenner's, per round (median first): " + "; ".join(parts)


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
    """Whether each kenner row meets the targets: rate ratio, p99 against the echo's (both
    from the median rounds) and peak RSS under load."""
    lines = []
    echo_p99 = baseline.median.load.p99_ms
    for m in measurements:
        if m is baseline:
            continue
        got, p99, rss = ratio(m, baseline), m.median.load.p99_ms, m.peak_rss_mb
        checks = [
            (got >= TARGET_RATIO, f"rate >= {TARGET_RATIO:.2f}x echo ({got:.2f}x)"),
            (
                p99 <= TARGET_P99_FACTOR * echo_p99,
                f"p99 <= {TARGET_P99_FACTOR:g}x echo's ({p99 / echo_p99:.2f}x)",
            ),
            (
                rss is not None and rss <= TARGET_RSS_MB,
                f"RSS <= {TARGET_RSS_MB:.0f} MB "
                + ("(not measured)" if rss is None else f"({rss:.1f} MB)"),
            ),
        ]
        parts = [f"{text}: {'met' if ok else 'NOT met'}" for ok, text in checks]
        lines.append(f"targets {m.name}: " + "; ".join(parts))
    return "\n".join(lines)
