"""The one client builder (``kenner.net.clients``) against real sockets on 127.0.0.1: every
remote kind ignores proxy variables, says who it is, and keeps its redirect policy."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import kenner
from kenner.alerting.events import PreparedAlert
from kenner.alerting.sender import AlertSendError, open_alert_sender
from kenner.kube.access import ClusterAccess
from kenner.kube.client import KubeClient, KubeUnavailable
from kenner.metrics import Metrics
from kenner.net.http import Fetcher
from tests.loopback.servers import RoutedApp, respond, serve_https

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


class PlainHttp:
    """A plain-HTTP listener on 127.0.0.1 answering every request with ``status``, recording
    each request head (alert receivers may be http://; a proxy would be too)."""

    def __init__(self, status: int = 200, location: str = "") -> None:
        self.heads: list[bytes] = []
        self.port = 0
        self._answer = f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n".encode()
        if location:
            self._answer += f"location: {location}\r\n".encode()
        self._answer += b"connection: close\r\n\r\n"

    async def _serve(self, stream: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            head += chunk
        self.heads.append(head)
        await stream.send_all(self._answer)
        await stream.aclose()


@asynccontextmanager
async def _plain_http(status: int = 200, location: str = "") -> AsyncIterator[PlainHttp]:
    server = PlainHttp(status, location)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, server._serve, 0, host="127.0.0.1")
        )
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


def _alert(url: str) -> PreparedAlert:
    return PreparedAlert("admit-0-slack", "admit", True, url, (), b"{}")


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PlainHttp]:
    """A listener every proxy variable points at: a client that read them would call it."""
    async with _plain_http(502) as listener:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, f"http://127.0.0.1:{listener.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield listener


async def test_alerts_go_straight_to_the_receiver(proxy: PlainHttp) -> None:
    """The alert client reads no proxy from the environment and sends kenner's User-Agent."""
    async with _plain_http() as receiver, open_alert_sender(Metrics()) as sender:
        await sender.send(_alert(f"http://127.0.0.1:{receiver.port}/hook"))
    assert proxy.heads == []
    assert len(receiver.heads) == 1
    assert receiver.heads[0].startswith(b"POST /hook HTTP/1.1\r\n")
    assert f"user-agent: kenner/{kenner.__version__}".encode() in receiver.heads[0].lower()


async def test_alert_redirects_are_not_followed() -> None:
    async with (
        _plain_http() as target,
        _plain_http(307, f"http://127.0.0.1:{target.port}/") as receiver,
        open_alert_sender(Metrics()) as sender,
    ):
        with pytest.raises(AlertSendError, match="answered HTTP 307"):
            await sender.send(_alert(f"http://127.0.0.1:{receiver.port}/hook"))
    assert target.heads == []


async def test_registry_and_kube_clients_ignore_proxy_variables(proxy: PlainHttp) -> None:
    """The Fetcher and the Kubernetes client reach their server directly, too; the Kubernetes
    client does not follow a redirect (the Fetcher does, https only: test_net_http)."""
    app = RoutedApp({"/v2/": respond(200, b"{}"), "/api/v1/x": respond(307, location="/v2/")})
    async with serve_https(app) as server:
        async with Fetcher(ca_pem=server.ca_pem) as fetcher:
            result = await fetcher.get(server.url("/v2/"), max_bytes=100)
        access = ClusterAccess(server.base_url, ca_pem=server.ca_pem, token="t")
        async with KubeClient(access) as kube:
            with pytest.raises(KubeUnavailable, match="unexpected HTTP status 307"):
                await kube.get_object("/api/v1/x")
    assert result.body == b"{}"
    assert proxy.heads == []
    assert [request.path for request in app.requests] == ["/v2/", "/api/v1/x"]
