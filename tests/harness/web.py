"""Minimal HTTPS client for the harness (stdlib only; the services trust our CA)."""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import attrs

_REQUEST_SECONDS = 10.0
# Readiness probes are repeated; one that hangs (port taken by a process that never answers)
# must not eat the whole start-up deadline.
_PROBE_SECONDS = 1.0


@attrs.frozen
class Response:
    """Status, lower-cased headers and body of one HTTP exchange."""

    status: int
    headers: dict[str, str]
    body: bytes


def tls_context(ca_cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the test bed CA."""
    return ssl.create_default_context(cafile=str(ca_cert))


def get(
    url: str, ca_cert: Path, accept: str | None = None, seconds: float = _REQUEST_SECONDS
) -> Response:
    """GET ``url`` within ``seconds``; HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(
            request, context=tls_context(ca_cert), timeout=seconds
        ) as reply:
            return Response(
                reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
            )
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def is_ok(url: str, ca_cert: Path) -> bool:
    """True if ``url`` answers 200 (any connection or TLS failure counts as not ready)."""
    try:
        return get(url, ca_cert, seconds=_PROBE_SECONDS).status == 200
    except (OSError, urllib.error.URLError):
        return False


def mtls_handshake_ok(port: int, ca_cert: Path, client_cert: Path, client_key: Path) -> bool:
    """True if a TLS handshake with a client certificate succeeds on 127.0.0.1:port."""
    context = tls_context(ca_cert)
    context.load_cert_chain(str(client_cert), str(client_key))
    context.set_alpn_protocols(["h2"])  # notary-signer speaks gRPC
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=_PROBE_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
