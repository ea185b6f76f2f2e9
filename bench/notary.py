"""The Notary v1 scenario: kenner checking a Pod's 3 signed images against a real notary-server.

It starts the project's test bed (tests/harness: notary-server, notary-signer and a registry
on 127.0.0.1, with signed images) in the scratch folder and measures three states of kenner's
trust-data cache, counting every request notary-server logs (bench/notary_log.py):

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

from bench.errors import BenchError
from bench.notary_log import NotaryLog
from bench.notary_report import CacheStates, Sample, notary_report
from bench.probe import probe
from bench.review import check_pinned, pod_review
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
    log: NotaryLog

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


def expected_cold_fetches(cases: Sequence[Case]) -> int:
    """Requests one cold validation should need: 4 per repository plus required delegations."""
    delegations = {(case.gun, role) for case in cases for role in case.required_delegations}
    return TOP_LEVEL_FETCHES * len({case.gun for case in cases}) + len(delegations)


@contextmanager
def kenner_notary(run: BenchRun) -> Iterator[Target]:
    """kenner with a notaryv1 validator on the test bed; warm under load, cold sampled."""
    with harness_testbed(
        run.scratch / "testbed", what="the Notary v1 test bed", leave_out="--without-notary"
    ) as testbed:
        cases = [testbed.case(case_id) for case_id in POD_CASES]
        pinned = tuple(f"{case.image}@{case.digest}" for case in cases)
        body = pod_review([case.image for case in cases])
        log = NotaryLog(testbed.state_dir / "logs" / "notary-server.log")
        setup = _Setup(
            run, _write(run, "warm", notary_config(testbed, cases, _WARM_TTL_S)), body, pinned, log
        )
        cold = [_fresh_sample(setup, f"cold-{n}") for n in range(1, run.cold_samples)]
        miss_first, misses = _cache_misses(
            attrs.evolve(setup, config=_write(run, "miss", notary_config(testbed, cases, 0)))
        )
        # The last fresh kenner gives the last cold sample, then stays up for the warm load.
        log_path = run.scratch / "kenner-notary.log"
        with kenner_serving(NAME, setup.config, run.tls, log_path) as server:
            cold.append(setup.ask(server))
            _require_counted(cold, log)
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
                report=partial(
                    _report,
                    expected_cold_fetches(cases),
                    CacheStates(tuple(cold), miss_first, misses),
                    log,
                    warm_from,
                ),
            )


def _require_counted(samples: Sequence[Sample], log: NotaryLog) -> None:
    # A cold validation must fetch; none counted means the log is not read right, and every
    # "0 requests" below would be a lie.
    if any(sample.requests.count == 0 for sample in samples):
        raise BenchError(
            f"notary-server logged no trust-data request from kenner for a cold validation; "
            f"cannot count round trips from {log.path}"
        )


def _write(run: BenchRun, label: str, config: str) -> Path:
    path = run.scratch / f"kenner-notary-{label}.yaml"
    path.write_text(config)
    return path


def _fresh_sample(setup: _Setup, label: str) -> Sample:
    log_path = setup.run.scratch / f"kenner-notary-{label}.log"
    with kenner_serving(f"{NAME} ({label})", setup.config, setup.run.tls, log_path) as server:
        return setup.ask(server)


def _cache_misses(setup: _Setup) -> tuple[Sample, tuple[Sample, ...]]:
    """The first request to a kenner that caches nothing, then the requests after it."""
    log_path = setup.run.scratch / "kenner-notary-miss.log"
    with kenner_serving(f"{NAME} (ttl 0)", setup.config, setup.run.tls, log_path) as server:
        first = setup.ask(server)
        return first, tuple(setup.ask(server) for _ in range(_CACHE_MISS_SAMPLES))


def _report(
    expected: int, states: CacheStates, log: NotaryLog, warm_from: int, answered: int
) -> list[str]:
    return notary_report(NAME, expected, states, log.fetches_since(warm_from), answered)
