"""``python -m bench``: start the scenarios' servers, load them with wrk, print the table."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import trustme

from bench.errors import BenchError
from bench.measure import Measurement, Plan, measure
from bench.notary import kenner_notary
from bench.notation import kenner_notation
from bench.redis import kenner_two_replicas
from bench.report import cpu_ratios_line, ratios_line, rounds_line, table, verdict
from bench.scenarios import BASELINE, COSIGN_SCENARIOS, SCENARIOS
from bench.servers import KENNER_LOG_LEVEL, KENNER_PYTHON, TlsFiles
from bench.target import BenchRun, Scenario
from bench.wrk import WRK_THREADS, Load, find_wrk, wrk_command


def main() -> int:
    """Run the benchmark; 0 when it produced a valid table, 2 when it could not."""
    args = _parser().parse_args()
    plan = Plan(Load(args.connections, args.duration, args.max_requests), args.warmup, args.rounds)
    try:
        find_wrk()
        if not KENNER_PYTHON.is_file():
            raise BenchError(f"{KENNER_PYTHON} is missing: `make bench` makes it first")
        with tempfile.TemporaryDirectory(prefix="kenner-bench-") as scratch_dir:
            run = BenchRun(Path(scratch_dir), _tls_files(Path(scratch_dir)), args.cold_samples)
            print(_header(args, plan, run), flush=True)
            scenarios = [
                s
                for s in SCENARIOS
                if not (args.without_notary and s in (kenner_notary, kenner_two_replicas))
                and not (args.without_cosign and s in COSIGN_SCENARIOS)
                and not (args.without_notation and s is kenner_notation)
            ]
            measurements, notes = _run_scenarios(scenarios, run, plan)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    baseline = next(m for m in measurements if m.name == BASELINE)
    print()
    print(table(measurements, baseline))
    print()
    print(rounds_line(measurements))
    print(ratios_line(measurements, baseline))
    print(cpu_ratios_line(measurements, baseline))
    print(verdict(measurements, baseline))
    for line in notes:
        print(line)
    print(f"load average after the run: {_load_average()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--connections", type=_positive, default=16, metavar="N")
    parser.add_argument("--duration", type=_positive, default=4, metavar="SECONDS")
    parser.add_argument("--warmup", type=_positive, default=3, metavar="SECONDS")
    parser.add_argument("--rounds", type=_positive, default=13, metavar="N")
    parser.add_argument(
        "--max-requests",
        type=_positive,
        default=1_000_000,
        metavar="N",
        help="cap per round; a round that reaches it is reported as invalid",
    )
    parser.add_argument(
        "--cold-samples",
        type=_positive,
        default=5,
        metavar="N",
        help="fresh kenner processes started for each cold-latency median (Notary v1, cosign)",
    )
    parser.add_argument(
        "--without-notary",
        action="store_true",
        help="leave out the Notary v1 scenario (it needs the test bed: root or the packages)",
    )
    parser.add_argument(
        "--without-cosign",
        action="store_true",
        help="leave out the three cosign scenarios (they need the harness's docker-registry)",
    )
    parser.add_argument(
        "--without-notation",
        action="store_true",
        help="leave out the Notation scenario (it needs the harness's docker-registry)",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value


def _run_scenarios(
    scenarios: Sequence[Scenario], run: BenchRun, plan: Plan
) -> tuple[list[Measurement], list[str]]:
    """Start every scenario, measure them together; the measurements and the targets' own
    report lines (asked while their servers still run)."""
    with ExitStack() as servers:
        targets = [servers.enter_context(scenario(run)) for scenario in scenarios]
        for target in targets:
            print(f"  {target.name}: {target.server.url}{target.path}  {target.description}")
        example = wrk_command(
            f"{targets[0].server.url}{targets[0].path}", run.scratch / "post.lua", plan.load
        )
        print(f"wrk command (per round, per scenario): {shlex.join(example)}", flush=True)
        measurements = measure(targets, plan, run)
        notes = [
            line
            for target, measured in zip(targets, measurements, strict=True)
            if target.report is not None
            for line in target.report(measured.answered)
        ]
        return measurements, notes


def _tls_files(scratch: Path) -> TlsFiles:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(scratch / "tls.crt", scratch / "tls.key", scratch / "ca.pem")
    files.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


def _header(args: argparse.Namespace, plan: Plan, run: BenchRun) -> str:
    options = sorted(vars(args).items())
    command = [sys.executable, "-m", "bench"]
    for name, value in options:
        flag = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):
            command += [flag] if value else []  # an on/off switch takes no value
        else:
            command.append(f"{flag}={value}")
    load = plan.load
    return "\n".join(
        [
            "kenner admission benchmark",
            f"command: {shlex.join(command)}",
            f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, {_wrk_version()}, "
            f"load average before the run: {_load_average()}",
            f"load: wrk, {WRK_THREADS} thread, {load.connections} keep-alive HTTPS "
            f"connections, {plan.warmup_s} s warm-up per scenario (not counted), "
            f"{plan.rounds} interleaved rounds of {load.duration_s} s (median round shown; "
            f"vs echo: median of the per-round ratios), "
            f"at most {load.max_requests} requests per round",
            f"kenner: {KENNER_PYTHON} -m kenner (a venv with the product's dependencies "
            f"only), log level {KENNER_LOG_LEVEL} (the per-request decision log is off)",
            "checked: the first answer of each scenario is parsed (kenner: allowed, uid "
            "echoed, notaryv1 and cosign by tag: one patch op per image pinning its signed "
            "digest, then the proof; @digest: only the proof; echo: same body) and wrk "
            "compares every later "
            "answer to it byte for byte",
            "first ms: latency of the first request to a fresh server (notaryv1, cosign, "
            f"notation: median of {run.cold_samples} fresh kenner processes, empty caches)",
            f"TLS: one trustme certificate for 127.0.0.1 in {run.scratch}, served by every server",
            "scenarios:",
        ]
    )


def _wrk_version() -> str:
    # `wrk -v` prints its version and exits with status 1.
    shown = subprocess.run([find_wrk(), "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    return (shown.stdout or shown.stderr).split("\n", 1)[0].split(" Copyright")[0].strip()


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
