"""An HTTPS front for the test bed's Notary on 127.0.0.1: forwards GETs, counts them, replays.

kenner talks to the front (its certificate from a trustme CA, given to kenner as ``cert:``);
the front forwards every GET to the real notary-server and records the path, so a test counts
the trust-data fetches a replica made. ``replay`` maps a path to bytes served instead of the
upstream answer: old trust data for a rollback test.
"""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


class NotaryFront:
    """A running front; ``stop`` shuts it down."""

    def __init__(self, upstream: str, upstream_ca: Path, ca: trustme.CA) -> None:
        self.upstream = upstream.rstrip("/")
        self.paths: list[str] = []
        self.replay: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._upstream_context = ssl.create_default_context(cafile=str(upstream_ca))
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                front._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test reads ``paths``

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def trust_fetches(self) -> list[str]:
        """The paths of TUF role fetches so far (health checks left out)."""
        with self._lock:
            return [path for path in self.paths if "/_trust/tuf/" in path]

    def fetch_upstream(self, path: str) -> bytes:
        """GET ``path`` from the real Notary (for capturing trust data to replay)."""
        with urllib.request.urlopen(
            self.upstream + path, context=self._upstream_context, timeout=10
        ) as answer:
            body: bytes = answer.read()
            return body

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.paths.append(handler.path)
            replayed = self.replay.get(handler.path)
        status, body, content_type = 200, replayed, "application/json"
        if body is None:
            try:
                with urllib.request.urlopen(
                    self.upstream + handler.path, context=self._upstream_context, timeout=10
                ) as answer:
                    body = answer.read()
                    content_type = answer.headers.get("Content-Type", content_type)
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
