"""Two replicas, one Redis: the second replica's first request and its warm load (issue 14).

It starts its own test bed (tests/harness) and Debian's redis-server (tests/harness/redis.py),
then two ``kenner serve`` with the same notaryv1 configuration plus ``cache.redis``. The first
replica validates the Pod's 3 signed images (fetching trust data from notary-server) and
shares the verdicts; the second replica's first request must cost one Redis read per image and
no Notary fetch. The second replica then carries the wrk rounds: warm, answered from its own
memo of the shared verdicts, so Redis is not asked again (its read count is reported too).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from tests.harness import HarnessError
from tests.harness.redis import RedisServer, start_redis

from bench.errors import BenchError
from bench.notary import POD_CASES, notary_config
from bench.probe import probe
from bench.review import check_pinned, pod_review
from bench.server_log import ServerLog, notary_fetch
from bench.servers import RunningServer, harness_testbed, kenner_serving
from bench.target import BenchRun, Target

NAME = "kenner 2 replicas + redis"
_WARM_TTL_S = 86_400
_SHARE_WAIT_S = 10.0


@contextmanager
def kenner_two_replicas(run: BenchRun) -> Iterator[Target]:
    """Replica 1 validates and shares; replica 2 answers from Redis, then from its memo."""
    with harness_testbed(
        run.scratch / "testbed-redis", what="the Notary v1 test bed", leave_out="--without-notary"
    ) as testbed:
        redis = _redis(run.scratch / "redis")
        try:
            cases = [testbed.case(case_id) for case_id in POD_CASES]
            pinned = tuple(f"{case.image}@{case.digest}" for case in cases)
            body = pod_review([case.image for case in cases])
            key = run.scratch / "redis-hmac.key"
            key.write_bytes(bytes(range(32)))
            config = json.loads(notary_config(testbed, cases, _WARM_TTL_S))
            config["cache"]["redis"] = {"url": redis.url, "hmacKeyFile": str(key)}
            path = run.scratch / "kenner-redis.yaml"
            path.write_text(json.dumps(config, indent=2))
            log = ServerLog(testbed.state_dir / "logs" / "notary-server.log", notary_fetch)
            ask = partial(_ask, run, body, pinned)
            with kenner_serving(
                f"{NAME} (first)", path, run.tls, run.scratch / "kenner-redis-1.log"
            ) as first:
                ask(first)
                _wait_shared(redis, len(cases))
                with kenner_serving(
                    NAME, path, run.tls, run.scratch / "kenner-redis-2.log"
                ) as second:
                    position, gets = log.position(), _gets(redis)
                    latency_ms = ask(second)
                    first_cost = (len(log.fetches_since(position)), _gets(redis) - gets)
                    if first_cost[0]:
                        raise BenchError(f"{NAME}: the second replica fetched from Notary")
                    warm_from = (log.position(), _gets(redis))
                    yield Target(
                        NAME,
                        second,
                        "/mutate",
                        body,
                        partial(check_pinned, pinned=pinned),
                        "the second of two kenner serve (notaryv1 on the test bed, cache.redis "
                        "on one redis-server), same Pod with 3 signed images; the first "
                        "replica validated them",
                        cold_ms=latency_ms,
                        report=partial(_report, first_cost, latency_ms, log, redis, warm_from),
                    )
        finally:
            redis.stop()


def _redis(state_dir: Path) -> RedisServer:
    try:
        return start_redis(state_dir)
    except HarnessError as error:
        raise BenchError(
            f"redis-server cannot start ({error}); `python -m bench --without-notary` "
            "measures the rest"
        ) from error


def _ask(run: BenchRun, body: bytes, pinned: tuple[str, ...], server: RunningServer) -> float:
    answer = probe(server.url, "/mutate", body, str(run.tls.ca))
    check_pinned(answer.status, answer.body, pinned)
    return answer.latency_ms


def _gets(redis: RedisServer) -> int:
    """GETRANGE commands (the verdict reads) Redis has run so far (INFO commandstats)."""
    stats = (redis.command(b"INFO", b"commandstats") or b"").decode(errors="replace")
    match = re.search(r"cmdstat_getrange:calls=(\d+)", stats)
    return int(match[1]) if match else 0


def _wait_shared(redis: RedisServer, count: int) -> None:
    deadline = time.monotonic() + _SHARE_WAIT_S
    while time.monotonic() < deadline:
        reply = redis.command(b"KEYS", b"kenner:v1:verdict:*") or b""
        if reply.count(b"kenner:v1:verdict:") >= count:
            return
        time.sleep(0.02)
    raise BenchError(f"{NAME}: the first replica did not share {count} verdicts in time")


def _report(
    first_cost: tuple[int, int],
    latency_ms: float,
    log: ServerLog,
    redis: RedisServer,
    warm_from: tuple[int, int],
    answered: int,
) -> list[str]:
    fetches, gets = first_cost
    return [
        f"{NAME}: second replica's first request {latency_ms:.1f} ms, {fetches} Notary "
        f"fetches, {gets} Redis reads (one per image); warm load: "
        f"{len(log.fetches_since(warm_from[0]))} Notary fetches and "
        f"{_gets(redis) - warm_from[1]} Redis reads for {answered} requests"
    ]
