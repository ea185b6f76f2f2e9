"""sd_notify over a real unix datagram socket: the messages, the pings, and a real daemon.

The end-to-end test runs ``kenner serve`` as a process with ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC`` set, reading the cluster from the fake Kubernetes API through a kubeconfig,
and checks what systemd would receive: READY=1 with the readiness summary once serving,
WATCHDOG=1 pings, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from kenner.sdnotify import Notifier, ping_watchdog, watchdog_period_s
from tests.loopback.daemon import client_context, start_daemon
from tests.loopback.servers import serve_https
from tests.support.fake_kube import WEBHOOKS, FakeKubeApi, webhook_configuration, write_kubeconfig


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    yield sock, str(path)
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_messages_arrive_as_one_datagram_each(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": path})
    assert notifier.send("READY=1", "STATUS=ready")
    assert notifier.reloading()
    notifier.close()
    ready, reloading = drain(sock)
    assert ready == "READY=1\nSTATUS=ready"
    first, second = reloading.split("\n")
    assert first == "RELOADING=1"
    assert second.startswith("MONOTONIC_USEC=")
    assert second.removeprefix("MONOTONIC_USEC=").isdigit()


def test_abstract_socket_address() -> None:
    name = f"kenner-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        notifier = Notifier(f"@{name}")
        assert notifier.send("STOPPING=1")
        notifier.close()
        assert sock.recv(100) == b"STOPPING=1"


def test_no_socket_or_a_missing_one_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert not Notifier.from_environment({}).enabled
    assert Notifier.from_environment({}).send("READY=1") is False
    notifier = Notifier(str(tmp_path / "absent.sock"))
    assert notifier.send("READY=1") is False
    notifier.close()
    assert "sd_notify failed" in caplog.text


def test_watchdog_period_is_half_of_watchdog_usec_for_this_process() -> None:
    assert watchdog_period_s({"WATCHDOG_USEC": "10000000"}) == 5.0
    own = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_period_s(own) == 1.0
    assert watchdog_period_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period_s({}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "0"}) is None


async def test_pings_come_from_the_loop_and_stop_while_it_is_blocked(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    notifier = Notifier(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ping_watchdog, notifier, 0.02)
        await trio.sleep(0.2)
        assert len(drain(sock)) >= 5
        time.sleep(0.3)  # noqa: ASYNC251 - the point: a stalled event loop
        assert drain(sock) == []  # not one ping while the loop was stuck
        await trio.sleep(0.1)
        assert set(drain(sock)) == {"WATCHDOG=1"}  # and they resume with the loop
        nursery.cancel_scope.cancel()
    notifier.close()


async def test_daemon_notifies_systemd_and_reads_the_cluster(
    tmp_path: Path, listener: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = listener
    ca = trustme.CA()
    api = FakeKubeApi()
    async with serve_https(api) as server:
        api.put(f"{WEBHOOKS}/kenner", webhook_configuration("kenner", ca.cert_pem.bytes()))
        kubeconfig = write_kubeconfig(tmp_path, server.base_url, server.ca_pem, api.token)
        config = tmp_path / "kenner.yaml"
        config.write_text(
            "validators: [{name: allow, type: static, approve: true}]\n"
            "policy: [{pattern: 'registry.k8s.io/*:*', validator: allow}]\n"
            f"kubernetes: {{enabled: true, kubeconfig: '{kubeconfig}'}}\n"
        )
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.setenv("WATCHDOG_USEC", "100000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        # start_daemon waits with blocking sleeps; the fake API must keep answering meanwhile.
        daemon = await trio.to_thread.run_sync(start_daemon, tmp_path, config, ca)
        try:
            async with httpx.AsyncClient(verify=client_context(ca)) as client:
                ready = await client.get(daemon.url + "/ready")
            assert ready.status_code == 200, ready.text
            assert json.loads(ready.text)["conditions"]["webhook"]["ok"] is True
            await trio.sleep(0.3)
            messages = drain(sock)
            assert "READY=1\nSTATUS=ready" in messages
            assert messages.count("WATCHDOG=1") >= 2

            daemon.process.send_signal(signal.SIGHUP)
            await trio.to_thread.run_sync(daemon.wait_for_log, "configuration and certificate")
            await trio.sleep(0.2)
            after_reload = [m.split("\n")[0] for m in drain(sock) if m != "WATCHDOG=1"]
            assert after_reload == ["RELOADING=1", "READY=1"]
        finally:
            assert await trio.to_thread.run_sync(daemon.stop) == 0
    assert "STOPPING=1" in drain(sock)
    assert any(r.get("logger") == "kenner.watchdog" for r in daemon.log_lines())
