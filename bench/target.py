"""What a scenario gets (``BenchRun``) and what it hands the driver (``Target``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import attrs

from bench.servers import RunningServer, TlsFiles


@attrs.frozen
class BenchRun:
    """What every scenario gets: a scratch folder, the TLS files to serve with, and how many
    fresh servers to start for a cold-latency median (scenarios with a cache use it)."""

    scratch: Path
    tls: TlsFiles
    cold_samples: int


@attrs.frozen
class Target:
    """A running server, the request to load it with and the check of its answer.

    ``check(status, body)`` raises ``BenchError`` unless the answer is the right one.
    ``cold_ms``, when set, is the scenario's own median latency of the first request to a
    fresh server; the table shows it instead of the driver's first request (which then is not
    the server's first). ``report(answered)`` is called after the load, while the server still
    runs, with the number of requests the driver had answered; it returns lines for the output.
    """

    name: str
    server: RunningServer
    path: str
    body: bytes
    check: Callable[[int, bytes], None]
    description: str
    cold_ms: float | None = None
    report: Callable[[int], Sequence[str]] | None = None


Scenario = Callable[[BenchRun], AbstractContextManager[Target]]
