"""The scenarios: each is a function that starts a server and yields it as a ``Target``.

To add one (for example kenner with a Notary validator, whose first answer is the cold
latency and whose load is the warm one), write a ``@contextmanager`` function taking the
``BenchRun`` and add it to ``SCENARIOS``. The driver probes every target once (that answer must
pass the target's check), warms it up, then measures all targets in interleaved rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

import attrs

from bench.review import check_allowed, check_echoed, pod_review
from bench.servers import RunningServer, TlsFiles, free_loopback_port, running_server

BASELINE = "echo"

# The decision log writes one JSON line per request at info level; at warning it is off, so
# the benchmark measures admission, not stderr writes.
KENNER_LOG_LEVEL = "warning"
STATIC_POLICY = f"""\
validators:
  - {{name: allow, type: static, approve: true}}
policy:
  - {{pattern: "registry.k8s.io/*:*", validator: allow}}
log: {{level: {KENNER_LOG_LEVEL}}}
"""


@attrs.frozen
class BenchRun:
    """What every scenario gets: a scratch folder and the TLS files to serve with."""

    scratch: Path
    tls: TlsFiles


@attrs.frozen
class Target:
    """A running server, the request to load it with and the check of its answer.

    ``check(status, body)`` raises ``BenchError`` unless the answer is the right one.
    """

    name: str
    server: RunningServer
    path: str
    body: bytes
    check: Callable[[int, bytes], None]
    description: str


Scenario = Callable[[BenchRun], AbstractContextManager[Target]]


def _serve_argv(port: int, tls: TlsFiles) -> list[str]:
    return [f"--listen=127.0.0.1:{port}", f"--tls-cert={tls.cert}", f"--tls-key={tls.key}"]


@contextmanager
def echo_baseline(run: BenchRun) -> Iterator[Target]:
    """hypercorn's trio worker with an ASGI app that returns the request body."""
    body = pod_review()
    port = free_loopback_port()
    argv = ["bench.echo", *_serve_argv(port, run.tls)]
    log = run.scratch / "echo.log"
    with running_server(BASELINE, argv, port, "/", run.tls, log) as server:
        yield Target(
            BASELINE,
            server,
            "/mutate",
            body,
            partial(check_echoed, sent=body),
            "bare hypercorn (trio) ASGI echo of the same body",
        )


@contextmanager
def kenner_static_policy(run: BenchRun) -> Iterator[Target]:
    """``kenner serve`` with one static allow validator; the Pod's 3 images all match it."""
    config = run.scratch / "kenner-static.yaml"
    config.write_text(STATIC_POLICY)
    port = free_loopback_port()
    argv = ["kenner", "serve", f"--config={config}", *_serve_argv(port, run.tls)]
    log = run.scratch / "kenner.log"
    with running_server("kenner", argv, port, "/ready", run.tls, log) as server:
        yield Target(
            "kenner static",
            server,
            "/mutate",
            pod_review(),
            check_allowed,
            f"kenner serve, static allow policy, Pod with 3 containers, log level "
            f"{KENNER_LOG_LEVEL} (no decision log lines)",
        )


SCENARIOS: tuple[Scenario, ...] = (echo_baseline, kenner_static_policy)
