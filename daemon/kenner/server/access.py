"""The access log (``log.accessLog``, off by default): one line per HTTP request.

Probes and scrapes (``/health``, ``/ready``, ``/metrics``) are logged at debug only, so a
kubelet polling every few seconds never floods the info log. Lines name method, path, status
and duration; never headers or bodies (they may carry tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio

log = logging.getLogger("kenner.access")

PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def logged(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``handler`` for one HTTP request and log the line when it is done."""
    started = trio.current_time()
    status = 0  # 0: no response was started (the client went away)

    async def send_and_note(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await handler(scope, receive, send_and_note)
    finally:
        path = scope["path"]
        level = logging.DEBUG if path in PROBE_PATHS else logging.INFO
        fields = {
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round((trio.current_time() - started) * 1000, 3),
            "client": (scope.get("client") or ("", 0))[0],
        }
        log.log(level, "http request", extra={"fields": fields})
