"""Two real ``kenner serve`` processes sharing one Redis, against one real Notary (issue 14).

Both replicas reach the test bed's notary-server through a loopback front
(``tests.support.notary_front``) that counts trust-data fetches and can replay old trust data.
Checked end to end: the second replica answers a signed image with no Notary fetch; a
tampered shared value is ignored (and the right answer still given); Redis killed in the
middle of a load changes no answer and causes no error; old trust data replayed to the second
replica is refused because the first one saw newer versions.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trustme

from tests.harness import TRUSTED_ROOT, Testbed, TestbedUnavailable
from tests.harness.redis import RedisServer, start_redis
from tests.integration.test_notaryv1_e2e import patch_of, single_pod_review
from tests.loopback.daemon import RunningDaemon, client_context, start_daemon
from tests.support.notary_front import NotaryFront

pytestmark = pytest.mark.testbed

ROLES = ("root", "timestamp", "snapshot", "targets")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        server = start_redis(tmp_path / "redis")
    except TestbedUnavailable as unavailable:
        pytest.skip(f"redis-server unavailable: {unavailable}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def front(testbed: Testbed, ca: trustme.CA) -> Iterator[NotaryFront]:
    running = NotaryFront(testbed.notary_url, testbed.ca_cert_path, ca)
    yield running
    running.stop()


@pytest.fixture
def replicas(
    testbed: Testbed, redis: RedisServer, front: NotaryFront, ca: trustme.CA, tmp_path: Path
) -> Iterator[tuple[RunningDaemon, RunningDaemon]]:
    key = tmp_path / "hmac.key"
    key.write_bytes(secrets.token_bytes(32))
    config = {
        "validators": [
            {"name": "deny", "type": "static", "approve": False},
            {
                "name": "testbed",
                "type": "notaryv1",
                "host": front.url,
                "cert": ca.cert_pem.bytes().decode(),
                "trustRoots": [{"name": "default", "key": testbed.root_keys[TRUSTED_ROOT]}],
            },
        ],
        "policy": [
            {"pattern": "*:*", "validator": "deny"},
            {"pattern": f"{testbed.registry_host}/kenner-test/*:*", "validator": "testbed"},
        ],
        # Short local caches: a test waits them out instead of restarting a replica.
        "cache": {
            "ttlSeconds": 1,
            "failureTtlSeconds": 0,
            "redis": {"url": redis.url, "hmacKeyFile": str(key), "timeoutSeconds": 0.5},
        },
        "watchdog": {"notaryHealth": False},
    }
    config_file = tmp_path / "kenner.yaml"
    config_file.write_text(json.dumps(config, indent=2))
    started: list[RunningDaemon] = []
    try:
        for name in ("first", "second"):
            folder = tmp_path / name
            folder.mkdir()
            started.append(start_daemon(folder, config_file, ca))
        yield started[0], started[1]
    finally:
        for daemon in started:
            assert daemon.stop() == 0


async def review(
    daemon: RunningDaemon, ca: trustme.CA, image: str, client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    if client is None:
        async with httpx.AsyncClient(verify=client_context(ca), timeout=30) as own:
            return await review(daemon, ca, image, own)
    answer = await client.post(f"{daemon.url}/mutate", json=single_pod_review(image))
    assert answer.status_code == 200, answer.text
    response: dict[str, Any] = answer.json()["response"]
    return response


async def metric(daemon: RunningDaemon, ca: trustme.CA, name: str) -> float:
    async with httpx.AsyncClient(verify=client_context(ca), timeout=30) as client:
        text = (await client.get(f"{daemon.url}/metrics")).text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def verdict_keys(redis: RedisServer) -> list[bytes]:
    reply = redis.command(b"KEYS", b"kenner:v1:verdict:*") or b""
    return [line for line in reply.split(b"\r\n") if line.startswith(b"kenner:")]


async def until_shared(redis: RedisServer, count: int) -> None:
    with trio.fail_after(10):
        while len(verdict_keys(redis)) < count:  # noqa: ASYNC110 - Redis is another process
            await trio.sleep(0.02)


def pinned(response: dict[str, Any], image: str, digest: str | None) -> None:
    assert response["allowed"] is True, response
    assert patch_of(response)[0]["value"] == f"{image}@{digest}"


async def test_two_replicas_share_verdicts_and_rollback_memory(
    testbed: Testbed,
    redis: RedisServer,
    front: NotaryFront,
    ca: trustme.CA,
    replicas: tuple[RunningDaemon, RunningDaemon],
) -> None:
    first, second = replicas
    signed, other = testbed.case("signed/v1/trusted-root"), testbed.case("signed/v2/trusted-root")

    # 1. The first replica validates (fetching trust data); the second answers from Redis.
    pinned(await review(first, ca, signed.image), signed.image, signed.digest)
    assert front.trust_fetches()
    await until_shared(redis, 1)
    fetched = len(front.trust_fetches())
    pinned(await review(second, ca, signed.image), signed.image, signed.digest)
    assert len(front.trust_fetches()) == fetched  # 0 Notary fetches by the second replica

    # 2. A tampered shared value is ignored: the second replica validates for itself.
    await trio.sleep(1.1)  # the first replica's trust data (same GUN) runs out: it validates
    pinned(await review(first, ca, other.image), other.image, other.digest)
    await until_shared(redis, 2)
    for key in verdict_keys(redis):
        value = redis.command(b"GET", key) or b""
        raw = value.split(b"\r\n", 1)[1][:-2]
        redis.command(b"SET", key, raw[:-3] + b"99}")  # a later expiry, the old MAC
    fetched = len(front.trust_fetches())
    pinned(await review(second, ca, other.image), other.image, other.digest)
    assert len(front.trust_fetches()) > fetched
    assert await metric(second, ca, 'kenner_redis_values_rejected_total{problem="forged"}') == 1

    # 3. Old trust data replayed to the second replica after the first saw newer versions.
    gun = testbed.guns["signed"]
    old = {role: front.fetch_upstream(f"/v2/{gun}/_trust/tuf/{role}.json") for role in ROLES}
    tag = f"redis-replay-{secrets.token_hex(4)}"
    served = testbed.push_image(tag, "signed", tag)
    testbed.sign_tag(gun, tag, served.digest, served.size)  # new timestamp, snapshot, targets
    await trio.sleep(1.1)  # the replicas' local caches (ttlSeconds: 1) run out
    new_image = f"{testbed.registry_host}/kenner-test/signed:{tag}"
    pinned(await review(first, ca, new_image), new_image, served.digest)
    redis.command(b"DEL", *verdict_keys(redis))  # shared verdicts gone: trust data decides
    front.replay = {f"/v2/{gun}/_trust/tuf/{role}.json": raw for role, raw in old.items()}
    denied = await review(second, ca, signed.image)
    front.replay = {}
    assert denied["allowed"] is False
    message = denied["status"]["message"]
    assert "rollback" in message
    assert "(by another replica)" in message

    # 4. Redis killed in the middle of a load: every answer is still the right one, no error.
    unsigned = testbed.case("unsigned/v1/trusted-root")
    expected = {signed.image: True, other.image: True, unsigned.image: False}
    answers: list[tuple[str, bool]] = []

    # One client (one TLS context, a few kept-alive connections): 72 handshakes at once in
    # this process could take longer than kenner waits for one on a loaded machine.
    limits = httpx.Limits(max_connections=8)
    client = httpx.AsyncClient(verify=client_context(ca), timeout=30, limits=limits)

    async def ask(daemon: RunningDaemon, image: str) -> None:
        answers.append((image, (await review(daemon, ca, image, client))["allowed"]))

    async with client, trio.open_nursery() as nursery:
        for round_ in range(12):
            for daemon in replicas:
                for image in expected:
                    nursery.start_soon(ask, daemon, image)
            if round_ == 4:  # in a thread: the reviews in flight go on meanwhile
                await trio.to_thread.run_sync(redis.stop)
            await trio.sleep(0.1)
    assert len(answers) == 12 * 2 * 3
    assert all(allowed == expected[image] for image, allowed in answers)
    assert await metric(second, ca, "kenner_redis_up") == 0
    async with httpx.AsyncClient(verify=client_context(ca), timeout=30) as client:
        ready = await client.get(f"{second.url}/ready")
    assert ready.status_code == 200  # readiness does not depend on Redis
    redis.start()
    for daemon in replicas:
        assert daemon.process.poll() is None
        errors = [line for line in daemon.log_lines() if line.get("level") == "error"]
        assert errors == []
