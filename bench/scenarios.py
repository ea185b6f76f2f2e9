"""The scenarios: each is a function that starts a server and yields it as a ``Target``.

To add one, write a ``@contextmanager`` function taking the ``BenchRun`` and add it to
``SCENARIOS`` (the Notary v1 one lives in bench/notary.py, the cosign ones in
bench/cosign.py, the Notation one in bench/notation.py). The driver probes every target once
(that answer must pass the target's check), warms it up, then measures all targets in
interleaved rounds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from bench.cosign import kenner_cosign, kenner_cosign_bundles, kenner_cosign_digest
from bench.notary import kenner_notary
from bench.notation import kenner_notation
from bench.redis import kenner_two_replicas
from bench.review import check_allowed, check_echoed, pod_review
from bench.servers import (
    KENNER_LOG_LEVEL,
    free_loopback_port,
    kenner_serving,
    listen_argv,
    running_server,
)
from bench.target import BenchRun, Scenario, Target

BASELINE = "echo"

STATIC_POLICY = f"""\
validators:
  - {{name: allow, type: static, approve: true}}
policy:
  - {{pattern: "registry.k8s.io/*:*", validator: allow}}
log: {{level: {KENNER_LOG_LEVEL}}}
"""


@contextmanager
def echo_baseline(run: BenchRun) -> Iterator[Target]:
    """hypercorn's trio worker with an ASGI app that returns the request body."""
    body = pod_review()
    port = free_loopback_port()
    argv = [sys.executable, "-m", "bench.echo", *listen_argv(port, run.tls)]
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
    log = run.scratch / "kenner.log"
    with kenner_serving("kenner", config, run.tls, log) as server:
        yield Target(
            "kenner static",
            server,
            "/mutate",
            pod_review(),
            check_allowed,
            f"kenner serve, static allow policy, Pod with 3 containers, log level "
            f"{KENNER_LOG_LEVEL} (no decision log lines)",
        )


# The scenarios that need the harness's registry; `--without-cosign` leaves them out.
COSIGN_SCENARIOS: tuple[Scenario, ...] = (
    kenner_cosign,
    kenner_cosign_digest,
    kenner_cosign_bundles,
)
SCENARIOS: tuple[Scenario, ...] = (
    echo_baseline,
    kenner_static_policy,
    kenner_notary,
    kenner_two_replicas,
    *COSIGN_SCENARIOS,
    kenner_notation,
)
