"""Real HTTPS servers on 127.0.0.1 for tests: hypercorn (trio worker) serving a small ASGI app.

Usage::

    app = RoutedApp({"/hello": lambda request: respond(200, b"hi")})
    async with serve_https(app) as server:
        fetcher = Fetcher(ca_pem=server.ca_pem)
        await fetcher.get(server.url("/hello"), max_bytes=100)
    assert app.requests_to("/hello")[0].headers["user-agent"]

``serve_https`` binds port 0 (the kernel picks a free port), serves a certificate for
``127.0.0.1``/``localhost`` issued by a throw-away ``trustme`` CA (pass ``ca=`` to share one
CA between servers), and shuts hypercorn down gracefully when the block ends. ``RoutedApp``
dispatches on the exact path and records every request, so tests can assert what reached the
server (for example which requests carried an ``Authorization`` header). Handlers may hang
(``await trio.sleep_forever()``): shutdown cancels them after a short grace period.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import ExitStack, asynccontextmanager
from functools import partial
from typing import cast

import attrs
import hypercorn
import hypercorn.trio
import hypercorn.typing
import trio
import trustme

from kenner.server.app import Receive, Scope, Send, answer_lifespan

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@attrs.frozen
class Request:
    """What a client sent: method, path, raw query string and lower-cased headers."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen
class Response:
    """What a handler answers."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Response]]


def respond(status: int = 200, body: bytes = b"", **headers: str) -> Handler:
    """A handler that always answers the same (header names: ``content_type`` → Content-Type)."""
    response = Response(status, body, tuple((k.replace("_", "-"), v) for k, v in headers.items()))

    async def handler(request: Request) -> Response:
        return response

    return handler


class RoutedApp:
    """An ASGI app answering each exact path with its handler (404 otherwise), recording all."""

    def __init__(self, routes: Mapping[str, Handler]) -> None:
        self.routes = dict(routes)
        self.requests: list[Request] = []

    def requests_to(self, path: str) -> list[Request]:
        """The recorded requests for ``path``, oldest first."""
        return [request for request in self.requests if request.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=bytes(body),
        )
        self.requests.append(request)
        handler = self.routes.get(request.path, respond(404, b"not found"))
        response = await handler(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


@attrs.frozen
class RunningServer:
    """A started server: its base URL (``https://127.0.0.1:<port>``) and the CA it chains to."""

    base_url: str
    ca: trustme.CA

    @property
    def ca_pem(self) -> str:
        """The CA certificate, PEM text: what a client must trust to reach this server."""
        return str(self.ca.cert_pem.bytes().decode("ascii"))

    @property
    def port(self) -> int:
        """The TCP port the kernel picked."""
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        """The absolute https URL of ``path`` on this server."""
        return self.base_url + path


@asynccontextmanager
async def serve_https(
    app: AsgiApp,
    *,
    ca: trustme.CA | None = None,
    graceful_timeout_s: float = 0.2,
    host: str = "127.0.0.1",
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` over HTTPS on ``host`` (a loopback address, 127.0.0.1 unless a test needs
    a second host such as 127.0.0.2; free port) until the block ends."""
    ca = ca or trustme.CA()
    leaf = ca.issue_cert(host, "localhost")
    with ExitStack() as files:
        # hypercorn reads certificate and key from files; trustme deletes these afterwards.
        config = hypercorn.Config()
        config.certfile = files.enter_context(leaf.cert_chain_pems[0].tempfile())
        config.keyfile = files.enter_context(leaf.private_key_pem.tempfile())
        config.bind = [f"{host}:0"]
        config.graceful_timeout = graceful_timeout_s
        config.accesslog = None
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                partial(
                    hypercorn.trio.serve,
                    # hypercorn types scopes as TypedDicts; the apps here use plain dicts.
                    cast(hypercorn.typing.ASGIFramework, app),
                    config,
                    shutdown_trigger=stop.wait,
                )
            )
            try:
                yield RunningServer(base_url=binds[0], ca=ca)
            finally:
                stop.set()
