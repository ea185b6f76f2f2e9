"""The webhook as a raw ASGI application: ``POST /mutate``, ``GET /health``, ``GET /ready``,
``GET /metrics`` (Prometheus text format).

Protocol errors are answered with a plain-text 4xx that says what is wrong; a request that
can be answered is always answered with an AdmissionReview (allowed or denied), and no
exception reaches hypercorn (which would answer 500).

Bodies (docs/serving.md, issue 11 point 7):
- the whole body must arrive within ``server.bodyReadSeconds`` of the request's headers, else
  408; more than ``server.maxBodyBytes`` is 413. What the server has already queued is taken
  without a timer (the common small request); only a read that waits runs under the deadline;
- all unfinished bodies together hold at most ``server.maxBufferedBodyBytes``; a body that
  would exceed it is answered 503 with ``Retry-After`` and not read further.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
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

    def claim(self, limit: int) -> BodyClaim:
        """A claim on the budget for one body; ``release`` it when the request is answered."""
        return BodyClaim(self, limit)


class BodyClaim:
    """What one request's body holds of the ``BodyBudget`` (a plain object: this runs for
    every request, where a generator-based context manager costs several times more)."""

    __slots__ = ("_budget", "_limit", "_taken")

    def __init__(self, budget: BodyBudget, limit: int) -> None:
        self._budget = budget
        self._limit = limit
        self._taken = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes; ``BodyBudgetExceeded`` past the limit (nothing taken)."""
        budget = self._budget
        if budget.held + size > self._limit:
            raise BodyBudgetExceeded
        budget.held += size
        self._taken += size

    def release(self) -> None:
        """Give back everything taken (idempotent)."""
        self._budget.held -= self._taken
        self._taken = 0


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
        claim = self.bodies.claim(server.max_buffered_body_bytes)
        try:
            try:
                body = await _read_body(
                    receive, headers.get(b"content-length"), limit, claim, server.body_read_s
                )
            except BodyTooLarge:
                await _respond(send, 413, f"request body exceeds {limit} bytes\n".encode())
                return
            except BodyBudgetExceeded:
                text = b"too many unfinished request bodies; retry shortly\n"
                await _respond(send, 503, text, retry_after=b"1")
                return
            if body is None:
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
        finally:
            claim.release()
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
    receive: Receive,
    content_length: bytes | None,
    limit: int,
    claim: BodyClaim,
    read_s: float,
) -> bytes | None:
    """The whole body, or None when it did not arrive within ``read_s`` seconds from now.

    hypercorn's trio worker hands the app the ``receive`` of a trio memory channel, and a
    small request's body is usually queued there before the app runs: what is queued is
    taken without waiting, so the common request needs no timer (a cancel scope with a
    deadline costs more than the rest of the read). Any wait, with any server, ends at the
    deadline counted from this call.
    """
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise BodyTooLarge
    queued = getattr(getattr(receive, "__self__", None), "receive_nowait", None)
    deadline = trio.current_time() + read_s
    chunks: list[bytes] = []
    size = 0
    while True:
        message = None
        if queued is not None:
            message = await _queued_message(queued)
            if message is None:
                queued = None  # it did not come at once: every later read waits, by the deadline
        if message is None:
            with trio.move_on_at(deadline):
                message = await receive()
            if message is None:
                return None
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        claim.take(len(chunk))
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _queued_message(receive_nowait: Callable[[], Message]) -> Message | None:
    """The next message already queued, else None. hypercorn queues a body and its end as
    two messages, so when none is there yet the server's task may run once first."""
    try:
        return receive_nowait()
    except trio.WouldBlock:
        await trio.lowlevel.checkpoint()
    try:
        return receive_nowait()
    except trio.WouldBlock:
        return None


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
