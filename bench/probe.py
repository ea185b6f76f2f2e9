"""One request with a verifying TLS client, before any load: the answer and how long it took."""

from __future__ import annotations

import http.client
import ssl
import time
from urllib.parse import urlsplit

import attrs

from bench.errors import BenchError


@attrs.frozen
class ProbeAnswer:
    """The answer to the first request a server got, and its latency (after the handshake)."""

    status: int
    body: bytes
    latency_ms: float


def probe(url: str, path: str, body: bytes, ca_file: str) -> ProbeAnswer:
    """POST ``body`` to ``url`` + ``path`` once, checking the server's certificate.

    Raises:
        BenchError: the connection or the request failed.
    """
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise BenchError(f"cannot probe {url!r}: it names no host and port")
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context)
    try:
        connection.connect()  # the TLS handshake is not part of the request's latency
        started = time.perf_counter()
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        latency_ms = (time.perf_counter() - started) * 1000
    except (OSError, http.client.HTTPException) as error:
        raise BenchError(f"probe of {url}{path} failed: {error}") from error
    finally:
        connection.close()
    return ProbeAnswer(response.status, answer, latency_ms)
