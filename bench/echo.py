"""The baseline: a bare ASGI app that answers every request with its own body.

Run as ``python -m bench.echo --tls-cert CERT --tls-key KEY``. It is served by hypercorn's trio
worker with the same TLS set-up kenner uses (hypercorn's default context from a certificate
and key file), so the only difference the benchmark measures is kenner's own work per request.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def echo_app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """Read the whole request body and send it back as ``application/json``."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve(listen: str, cert: str, key: str) -> None:
    config = HypercornConfig()
    config.bind = [listen]
    config.certfile = cert
    config.keyfile = key
    config.accesslog = None
    # hypercorn types the app with its own TypedDict events; this raw app reads plain mappings.
    await serve(echo_app, config, shutdown_trigger=_terminated)  # type: ignore[arg-type]


async def _terminated() -> None:
    # Like kenner, stop on SIGTERM/SIGINT by draining rather than dying mid-request.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__)
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--tls-cert", required=True, metavar="FILE")
    parser.add_argument("--tls-key", required=True, metavar="FILE")
    args = parser.parse_args()
    trio.run(_serve, args.listen, args.tls_cert, args.tls_key)


if __name__ == "__main__":
    main()
