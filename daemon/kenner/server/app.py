"""The webhook as a raw ASGI application: ``POST /mutate``, ``GET /health``, ``GET /ready``,
``GET /metrics`` (Prometheus text format).

Protocol errors are answered with a plain-text 4xx that says what is wrong; a request that
can be answered is always answered with an AdmissionReview (allowed or denied), and no
exception reaches hypercorn (which would answer 500).

Bodies (docs/serving.md, issue 11 point 7):
- the whole body must arrive within ``server.bodyReadSeconds`` of the request's headers, else
  408; more than ``server.maxBodyBytes`` is 413;
- all unfinished bodies together hold at most ``server.maxBufferedBodyBytes``; a body that
  would exceed it is answered 503 with ``Retry-After`` and not read further.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import trio

from kenner.admission.review import ReviewError
from kenner.app.pipeline import answer_review
from kenner.app.state import DaemonState
from kenner.errors import KennerError
from kenner.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from kenner.server.access import logged

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyTooLarge(KennerError):
    """The request body is larger than ``server.max_body_bytes``."""


class BodyBudgetExceeded(KennerError):
    """All unfinished bodies together would hold more than ``server.max_buffered_body_bytes``."""


class BodyBudget:
    """Bytes held by the request bodies of all requests not yet answered."""

    def __init__(self) -> None:
        self.held = 0

    @contextmanager
    def account(self, limit: int) -> Iterator[Callable[[int], None]]:
        """A ``take(size)`` that raises ``BodyBudgetExceeded`` past ``limit``; all given back at
        exit."""
        taken = 0

        def take(size: int) -> None:
            nonlocal taken
            if self.held + size > limit:
                raise BodyBudgetExceeded
            self.held += size
            taken += size

        try:
            yield take
        finally:
            self.held -= taken


class WebhookApp:
    """Routes requests; reads the current snapshot from ``state`` once per request."""

    def __init__(self, state: DaemonState) -> None:
        self.state = state
        self.bodies = BodyBudget()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.state.snapshot.config.log.access_log:
            await logged(self._route, scope, receive, send)
        else:
            await self._route(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if path == "/mutate":
            if method != "POST":
                await _respond(send, 405, b"use POST for /mutate\n", allow=b"POST")
                return
            await self._mutate(scope, receive, send)
        elif path in ("/health", "/ready"):
            if method not in ("GET", "HEAD"):
                await _respond(send, 405, b"use GET\n", allow=b"GET, HEAD")
                return
            if path == "/health":
                await _respond_json(send, 200, {"status": "ok"})
            else:
                status = 200 if self.state.ready else 503
                await _respond_json(send, status, self.state.readiness_report())
        elif path == "/metrics":
            await serve_metrics(self.state, method, send)
        else:
            await _respond(send, 404, b"not found\n")

    async def _mutate(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self.state.snapshot  # this request keeps this snapshot, even across a reload
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            await _respond(send, 415, b"Content-Type must be application/json\n")
            return
        server = snapshot.config.server
        limit = server.max_body_bytes
        with self.bodies.account(server.max_buffered_body_bytes) as take:
            try:
                with trio.fail_after(server.body_read_s):
                    body = await _read_body(receive, headers.get(b"content-length"), limit, take)
            except BodyTooLarge:
                await _respond(send, 413, f"request body exceeds {limit} bytes\n".encode())
                return
            except BodyBudgetExceeded:
                text = b"too many unfinished request bodies; retry shortly\n"
                await _respond(send, 503, text, retry_after=b"1")
                return
            except trio.TooSlowError:
                seconds = f"{server.body_read_s:g}"
                text = f"request body not received within {seconds} seconds\n".encode()
                await _respond(send, 408, text)
                return
            try:
                answer, _decision = await answer_review(
                    body, snapshot, metrics=self.state.metrics, alerts=self.state.alerts
                )
            except ReviewError as error:
                await _respond(send, 400, f"{error}\n".encode())
                return
        await _respond(send, 200, answer, content_type=b"application/json")


class MetricsApp:
    """The separate plain-HTTP metrics listener (``server.metricsListen``): ``/metrics`` only."""

    def __init__(self, state: DaemonState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == "/metrics":
            await serve_metrics(self.state, scope["method"], send)
        elif scope["type"] == "http":
            await _respond(send, 404, b"not found: only /metrics is served here\n")


async def serve_metrics(state: DaemonState, method: str, send: Send) -> None:
    """``GET /metrics``: every metric of this daemon, rendered at this moment."""
    if method not in ("GET", "HEAD"):
        await _respond(send, 405, b"use GET\n", allow=b"GET, HEAD")
        return
    body = state.metrics.render()
    await _respond(send, 200, body, content_type=METRICS_CONTENT_TYPE.encode())


async def _read_body(
    receive: Receive, content_length: bytes | None, limit: int, take: Callable[[int], None]
) -> bytes:
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        take(len(chunk))
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def answer_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge ASGI lifespan startup and shutdown (kenner has nothing to set up)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond_json(send: Send, status: int, body: object) -> None:
    await _respond(send, status, json.dumps(body).encode(), content_type=b"application/json")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"text/plain; charset=utf-8",
    allow: bytes | None = None,
    retry_after: bytes | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if allow is not None:
        headers.append((b"allow", allow))
    if retry_after is not None:
        headers.append((b"retry-after", retry_after))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
