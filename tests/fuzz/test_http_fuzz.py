"""Fuzz the real daemon over HTTPS with mutated AdmissionReviews (issue 11, "Suites").

A ``kenner serve`` subprocess on 127.0.0.1 approves ``registry.k8s.io`` and nothing else. Seeds
of every workload kind carry an image from elsewhere; a seeded mutator (``mutator.py``) breaks
them in many ways, and several keep-alive connections POST them concurrently. Every answer must
be a non-5xx HTTP answer, no connection may break, and ``allowed: true`` is accepted only where
the independent oracle (``oracle.py``) says it can be right. Afterwards the daemon is alive,
``/health`` answers and its RSS grew by less than ``KENNER_FUZZ_RSS_MB`` (default 50).

``KENNER_FUZZ_COUNT`` sets the number of requests (3 000 in ``make test``, 100 000 in
``make fuzz``), ``KENNER_FUZZ_SEED`` the mutator's seed; ``KENNER_FUZZ_REPORT=FILE`` writes every
failure (mutations and the start and end of the body) to FILE. One summary line is printed.
"""

from __future__ import annotations

import collections
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest
import trio
import trustme

from tests.fuzz.mutator import mutate, seeds
from tests.fuzz.oracle import why_allow_is_wrong
from tests.loopback.daemon import ALLOW_REGISTRY_K8S, RunningDaemon, client_context, start_daemon
from tests.shared import connaisseur_fixtures

COUNT = int(os.environ.get("KENNER_FUZZ_COUNT", "3000"))
SEED = int(os.environ.get("KENNER_FUZZ_SEED", "11"))
RSS_BOUND_MB = float(os.environ.get("KENNER_FUZZ_RSS_MB", "50"))
CONNECTIONS = 4
EXAMPLES = 3  # failures of each kind quoted in the report

CONFIG = (
    ALLOW_REGISTRY_K8S
    + """  - pattern: "registry.k8s.io/*"
    validator: allow
features:
  detectionMode: false
  automaticChildApproval: false
  automaticUnchangedApproval: false
  resourceValidationMode: all
"""
)


@attrs.define
class Tally:
    tried: int = 0
    statuses: collections.Counter[int] = attrs.Factory(collections.Counter)
    server_errors: list[str] = attrs.Factory(list)
    admits: list[str] = attrs.Factory(list)
    admit_reasons: collections.Counter[str] = attrs.Factory(collections.Counter)
    crashes: list[str] = attrs.Factory(list)

    def summary(self, rss_before: int, rss_after: int, seconds: float) -> str:
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(self.statuses.items()))
        return (
            f"kenner fuzz: {self.tried} requests in {seconds:.1f} s (seed {SEED}); "
            f"status {statuses}; 5xx {len(self.server_errors)}; "
            f"admitted unsigned {len(self.admits)}; crashes {len(self.crashes)}; "
            f"RSS {rss_before // 1024} MB -> {rss_after // 1024} MB"
        )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _optional_connaisseur() -> Path | None:
    try:
        return connaisseur_fixtures()
    except pytest.skip.Exception:
        return None


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[RunningDaemon, trustme.CA]]:
    ca = trustme.CA()
    config = tmp_path / "kenner.yaml"
    config.write_text(CONFIG)
    running = start_daemon(tmp_path, config, ca)
    yield running, ca
    running.stop()


def _logged_exceptions(log_path: Path) -> collections.Counter[str]:
    """Tracebacks in the daemon's log, by kenner's innermost frame and the exception line."""
    found: collections.Counter[str] = collections.Counter()
    with log_path.open() as log:
        for line in log:
            if '"exception"' not in line or not line.startswith("{"):
                continue
            lines = str(json.loads(line).get("exception", "")).strip().splitlines()
            frames = [text.strip() for text in lines if "/kenner/" in text and "File " in text]
            where = frames[-1].split("/kenner/", 1)[-1] if frames else "outside kenner"
            found[f"{where}: {lines[-1][:100] if lines else ''}"] += 1
    return found


def _describe(names: list[str], body: bytes) -> str:
    shown = body if len(body) <= 400 else body[:200] + b" ... " + body[-200:]
    return f"{'+'.join(names)} {shown!r}"


async def _worker(
    url: str, ca: trustme.CA, jobs: trio.MemoryReceiveChannel[tuple[bytes, list[str]]], tally: Tally
) -> None:
    client = httpx.AsyncClient(verify=client_context(ca), timeout=30.0)
    try:
        async for body, names in jobs:
            tally.tried += 1
            try:
                response = await client.post(
                    f"{url}/mutate", content=body, headers={"content-type": "application/json"}
                )
            except httpx.HTTPError as error:
                tally.crashes.append(f"{type(error).__name__}: {_describe(names, body)}")
                await client.aclose()  # a fresh connection for the next request
                client = httpx.AsyncClient(verify=client_context(ca), timeout=30.0)
                continue
            tally.statuses[response.status_code] += 1
            if response.status_code >= 500:
                tally.server_errors.append(f"{_describe(names, body)} {response.status_code}")
            elif response.status_code == 200:
                allowed = response.json().get("response", {}).get("allowed")
                wrong = why_allow_is_wrong(body) if allowed is not False else None
                if wrong is not None:
                    tally.admits.append(f"{_describe(names, body)} [{wrong}]")
                    tally.admit_reasons[wrong.split(" '")[0]] += 1
    finally:
        await client.aclose()


async def test_mutated_reviews_never_crash_500_or_admit_an_unsigned_image(daemon) -> None:
    running, ca = daemon
    pid = running.process.pid
    rng = random.Random(SEED)
    bodies = seeds(_optional_connaisseur())
    tally = Tally()
    rss_before = rss_kib(pid)
    started = time.monotonic()
    send, receive = trio.open_memory_channel[tuple[bytes, list[str]]](CONNECTIONS * 2)
    async with trio.open_nursery() as nursery:
        for _ in range(CONNECTIONS):
            nursery.start_soon(_worker, running.url, ca, receive.clone(), tally)
        async with send:
            for index in range(COUNT):
                seed = bodies[index % len(bodies)]
                await send.send(mutate(seed, rng) if index >= len(bodies) else (seed, ["seed"]))
        await receive.aclose()
    seconds = time.monotonic() - started
    alive = running.process.poll() is None
    rss_after = rss_kib(pid) if alive else 0
    print("\n" + tally.summary(rss_before, rss_after, seconds))
    for label, found in (("5xx", tally.server_errors), ("admit", tally.admits)):
        by_mutation = collections.Counter(example.split(" ")[0] for example in found)
        if found:
            print(f"  {label} by mutation: {dict(by_mutation.most_common())}")
        if label == "admit" and found:
            print(f"  admit by oracle reason: {dict(tally.admit_reasons.most_common(12))}")
        for example in found[:EXAMPLES]:
            print(f"  {label}: {example}")
    for example in tally.crashes[:EXAMPLES]:
        print(f"  crash: {example}")
    for where, count in _logged_exceptions(running.log_path).most_common(5):
        print(f"  daemon traceback x{count}: {where}")

    report = os.environ.get("KENNER_FUZZ_REPORT")
    if report:
        lines = [
            f"{label}: {example}"
            for label, found in (
                ("crash", tally.crashes),
                ("5xx", tally.server_errors),
                ("admit", tally.admits),
            )
            for example in found
        ]
        Path(report).write_text("\n".join(lines) + "\n")
    assert alive, f"kenner exited with {running.process.returncode}"
    async with httpx.AsyncClient(verify=client_context(ca)) as client:
        assert (await client.get(f"{running.url}/health")).status_code == 200
    assert not tally.crashes, tally.crashes[:EXAMPLES]
    assert not tally.server_errors, tally.server_errors[:EXAMPLES]
    assert not tally.admits, tally.admits[:EXAMPLES]
    assert rss_after - rss_before < RSS_BOUND_MB * 1024, (rss_before, rss_after)
