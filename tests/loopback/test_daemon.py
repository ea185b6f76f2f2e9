"""``kenner serve`` as a real process on 127.0.0.1 over real TLS: answers, reload, stop."""

from __future__ import annotations

import signal
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from tests.loopback.daemon import (
    ALLOW_REGISTRY_K8S,
    RunningDaemon,
    client_context,
    issue_certificate,
    start_daemon,
)
from tests.support.reviews import as_bytes, pod_review

ALLOW_NGINX = (
    ALLOW_REGISTRY_K8S
    + """  - pattern: "docker.io/library/nginx:*"
    validator: allow
"""
)


def _review(image: str) -> dict[str, object]:
    return pod_review(image, uid="u", container_name="c")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def daemon(tmp_path: Path, ca: trustme.CA) -> Iterator[RunningDaemon]:
    config = tmp_path / "kenner.yaml"
    config.write_text(ALLOW_REGISTRY_K8S)
    running = start_daemon(tmp_path, config, ca)
    yield running
    running.stop()


async def _allowed(daemon: RunningDaemon, context: ssl.SSLContext, image: str) -> bool:
    async with httpx.AsyncClient(verify=context) as client:
        response = await client.post(f"{daemon.url}/mutate", json=_review(image))
    assert response.status_code == 200
    return bool(response.json()["response"]["allowed"])


async def test_serves_verdicts_over_tls_1_2_or_newer(daemon: RunningDaemon, ca: trustme.CA) -> None:
    context = client_context(ca)
    assert await _allowed(daemon, context, "registry.k8s.io/pause:3.9")
    assert not await _allowed(daemon, context, "nginx:1.27")
    # TLS 1.2 is accepted (kenner's floor; hypercorn sets minimum_version to TLS 1.2)
    tls12 = client_context(ca)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    host, port = daemon.url.removeprefix("https://").rsplit(":", 1)
    stream = trio.SSLStream(
        await trio.open_tcp_stream(host, int(port)), tls12, server_hostname=host
    )
    await stream.do_handshake()
    assert stream.version() == "TLSv1.2"
    await stream.aclose()


async def test_sighup_reloads_config_and_certificate_and_refuses_a_bad_one(
    daemon: RunningDaemon, ca: trustme.CA, tmp_path: Path
) -> None:
    config = tmp_path / "kenner.yaml"
    # a broken config is refused: the old policy keeps serving
    config.write_text(ALLOW_REGISTRY_K8S + "  - pattern: 7\n    validator: nope\n")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("reload refused")
    assert not await _allowed(daemon, client_context(ca), "nginx:1.27")

    # a good config and a certificate from a new CA are taken together
    new_ca = trustme.CA()
    issue_certificate(new_ca, tmp_path)
    config.write_text(ALLOW_NGINX)
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration and certificate reloaded")
    assert await _allowed(daemon, client_context(new_ca), "nginx:1.27")
    with pytest.raises(httpx.ConnectError):
        await _allowed(daemon, client_context(ca), "nginx:1.27")


async def test_sigterm_lets_the_request_in_flight_finish(
    daemon: RunningDaemon, ca: trustme.CA
) -> None:
    body = as_bytes(_review("registry.k8s.io/pause:3.9"))
    host, port = daemon.url.removeprefix("https://").rsplit(":", 1)
    with trio.fail_after(20):
        tcp = await trio.open_tcp_stream(host, int(port))
        stream = trio.SSLStream(tcp, client_context(ca), server_hostname=host)
        try:
            head = (
                f"POST /mutate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            await stream.send_all(head + body[:10])
            # Let the server read the head: only then is the request in flight. A request still
            # in the socket buffer when SIGTERM comes meets an idle connection, which kenner
            # closes cleanly (docs/serving.md); that race is not what this test is about.
            await trio.sleep(0.3)
            daemon.process.send_signal(signal.SIGTERM)
            await trio.sleep(0.5)
            await stream.send_all(body[10:])
            received = b""
            while b'"allowed":true' not in received:
                chunk = await stream.receive_some()
                assert chunk, received
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")
        finally:
            await trio.aclose_forcefully(stream)
    assert daemon.process.wait(15) == 0
