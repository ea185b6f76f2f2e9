"""The Notary v1 scenario: kenner checking a Pod's 3 signed images against a real notary-server.

It starts the project's test bed (tests/harness: notary-server, notary-signer and a registry
on 127.0.0.1, with signed images) in the scratch folder and measures three states of kenner's
trust-data cache, counting every request notary-server logs (bench/server_log.py):

* **cold**: the first request to a freshly started kenner (empty cache, no connections), once
  per ``--cold-samples``; the median goes into the table's "first ms" column;
* **cache miss on a running kenner**: one extra kenner with ``cache.ttlSeconds: 0``, so every
  request fetches and verifies again, over kept-alive connections;
* **warm**: the last fresh kenner stays up and carries the wrk rounds; its cache holds the
  three repositories for the whole run (``ttlSeconds`` is raised above the run's length), so
  no request should reach Notary.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import attrs
from tests.harness import TRUSTED_ROOT, Case, Testbed

from bench.cache_report import Design, Sample, cache_report, require_counted
from bench.probe import probe
from bench.review import check_pinned, pod_review
from bench.server_log import ServerLog, notary_fetch
from bench.servers import KENNER_LOG_LEVEL, RunningServer, harness_testbed, kenner_serving
from bench.target import BenchRun, Target

NAME = "kenner notaryv1"
# Two repositories checked against targets.json only (one round: the 4 top-level roles) and
# one whose rule requires two delegations (a second round for targets/alice and
# targets/releases). All three are allowed and pinned to their signed digests.
POD_CASES = (
    "signed/v1/trusted-root",
    "multi-arch/v1/trusted-root",
    "delegated/both/delegations=alice+releases",
)
TOP_LEVEL_FETCHES = 4  # root, timestamp, snapshot, targets
# Longer than any run, so the warm rounds never see an expiry; the default is 300 s.
_WARM_TTL_S = 86_400
_CACHE_MISS_SAMPLES = 10


@attrs.frozen
class _Setup:
    """What every kenner of this scenario is started with and asked."""

    run: BenchRun
    config: Path
    body: bytes
    pinned: tuple[str, ...]
    log: ServerLog

    def ask(self, server: RunningServer) -> Sample:
        """Send the Pod once, check the answer, count what reached Notary meanwhile."""
        position = self.log.position()
        answer = probe(server.url, "/mutate", self.body, str(self.run.tls.ca))
        check_pinned(answer.status, answer.body, self.pinned)
        return Sample(answer.latency_ms, self.log.fetches_since(position))


def notary_config(testbed: Testbed, cases: Sequence[Case], ttl_s: int) -> str:
    """kenner's configuration: one notaryv1 validator for the test bed, one rule per image.

    Each rule pins its image's repository and the delegations its case requires. Returned as
    JSON, which is YAML and keeps the multi-line PEMs intact.
    """
    rules = [
        {
            "pattern": f"{case.gun}:*",
            "validator": "testbed",
            "with": {"delegations": list(case.required_delegations)},
        }
        for case in cases
    ]
    config = {
        "validators": [
            {
                "name": "testbed",
                "type": "notaryv1",
                "host": testbed.notary_url,
                "cert": testbed.ca_pem,
                "trustRoots": [{"name": "default", "key": testbed.root_keys[TRUSTED_ROOT]}],
            }
        ],
        "policy": rules,
        "cache": {"ttlSeconds": ttl_s, "failureTtlSeconds": 0},
        "log": {"level": KENNER_LOG_LEVEL},
    }
    return json.dumps(config, indent=2)


def design(cases: Sequence[Case]) -> Design:
    """One cold validation: 4 requests per repository in round 1, then the required
    delegations in round 2."""
    delegations = {(case.gun, role) for case in cases for role in case.required_delegations}
    return Design(
        TOP_LEVEL_FETCHES * len({case.gun for case in cases}) + len(delegations),
        2 if delegations else 1,
        "4 per repository in round 1 + the required delegations in round 2",
    )


@contextmanager
def kenner_notary(run: BenchRun) -> Iterator[Target]:
    """kenner with a notaryv1 validator on the test bed; warm under load, cold sampled."""
    with harness_testbed(
        run.scratch / "testbed", what="the Notary v1 test bed", leave_out="--without-notary"
    ) as testbed:
        cases = [testbed.case(case_id) for case_id in POD_CASES]
        pinned = tuple(f"{case.image}@{case.digest}" for case in cases)
        body = pod_review([case.image for case in cases])
        log = ServerLog(testbed.state_dir / "logs" / "notary-server.log", notary_fetch)
        setup = _Setup(
            run, _write(run, "warm", notary_config(testbed, cases, _WARM_TTL_S)), body, pinned, log
        )
        cold = [_fresh_sample(setup, f"cold-{n}") for n in range(1, run.cold_samples)]
        misses = _cache_misses(
            attrs.evolve(setup, config=_write(run, "miss", notary_config(testbed, cases, 0)))
        )
        # The last fresh kenner gives the last cold sample, then stays up for the warm load.
        log_path = run.scratch / "kenner-notary.log"
        with kenner_serving(NAME, setup.config, run.tls, log_path) as server:
            cold.append(setup.ask(server))
            require_counted(cold, log)
            warm_from = log.position()
            yield Target(
                NAME,
                server,
                "/mutate",
                body,
                partial(check_pinned, pinned=pinned),
                f"kenner serve, notaryv1 validator on the test bed's notary-server, Pod with 3 "
                f"signed images ({', '.join(POD_CASES)}), log level {KENNER_LOG_LEVEL}",
                cold_ms=statistics.median(sample.latency_ms for sample in cold),
                report=partial(_report, design(cases), (cold, misses), log, warm_from),
            )


def _write(run: BenchRun, label: str, config: str) -> Path:
    path = run.scratch / f"kenner-notary-{label}.yaml"
    path.write_text(config)
    return path


def _fresh_sample(setup: _Setup, label: str) -> Sample:
    log_path = setup.run.scratch / f"kenner-notary-{label}.log"
    with kenner_serving(f"{NAME} ({label})", setup.config, setup.run.tls, log_path) as server:
        return setup.ask(server)


def _cache_misses(setup: _Setup) -> list[Sample]:
    """Requests to a kenner that caches nothing, after a first one that opens its connections."""
    log_path = setup.run.scratch / "kenner-notary-miss.log"
    with kenner_serving(f"{NAME} (ttl 0)", setup.config, setup.run.tls, log_path) as server:
        setup.ask(server)
        return [setup.ask(server) for _ in range(_CACHE_MISS_SAMPLES)]


def _report(
    expected: Design,
    states: tuple[list[Sample], list[Sample]],
    log: ServerLog,
    warm_from: int,
    answered: int,
) -> list[str]:
    return cache_report(
        NAME, "notary-server", expected, states, log.fetches_since(warm_from), answered
    )
