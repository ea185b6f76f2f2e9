"""Raw TLS clients for hostile serving tests: HTTP/1.1 bytes and HTTP/2 frames (``h2``).

Blocking sockets on purpose: the daemon runs in its own process, and each test decides byte
by byte what a misbehaving client sends.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import h2.config
import h2.connection
import h2.events

from tests.support.reviews import as_bytes, pod_review

REVIEW = as_bytes(pod_review("registry.k8s.io/pause:3.9", uid="u", container_name="c"))


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def tls_socket(url: str, context: ssl.SSLContext, alpn: str = "http/1.1") -> ssl.SSLSocket:
    context.set_alpn_protocols([alpn])
    raw = socket.create_connection(address(url), timeout=10)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert sock.selected_alpn_protocol() == alpn
    return sock


def post_head(length: int, path: str = "/mutate") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def read_response(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, lower-case headers, body) read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def closed_by_server(sock: ssl.SSLSocket, timeout_s: float = 5.0) -> bool:
    """True when the server closes ``sock`` (clean EOF or reset) within ``timeout_s``."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def health(url: str, context: ssl.SSLContext) -> int:
    """GET /health on a fresh HTTP/1.1 connection; the status."""
    with tls_socket(url, context) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return read_response(sock)[0]


@attrs.define
class H2Client:
    """An HTTP/2 connection driven frame by frame."""

    sock: ssl.SSLSocket
    conn: h2.connection.H2Connection
    events: list[h2.events.Event] = attrs.Factory(list)

    @classmethod
    def open(cls, url: str, context: ssl.SSLContext) -> H2Client:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        client = cls(tls_socket(url, context, "h2"), conn)
        client.flush()
        return client

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method: str, path: str, *, end: bool = True) -> int:
        stream = self.conn.get_next_available_stream_id()
        headers = [
            (":method", method),
            (":path", path),
            (":scheme", "https"),
            (":authority", "127.0.0.1"),
            ("content-type", "application/json"),
        ]
        self.conn.send_headers(stream, headers, end_stream=end)
        self.flush()
        return stream

    def send_body(self, stream: int, data: bytes, *, end: bool) -> None:
        """Sends ``data`` as flow control allows, reading events while blocked; stops early
        when the server resets the stream or ends the connection."""
        while data:
            if self.stopped(stream):
                return
            window = min(self.conn.local_flow_control_window(stream), 16384)
            if window == 0:
                assert self.receive(), "the server closed the HTTP/2 connection"
                continue
            self.conn.send_data(stream, data[:window])
            data = data[window:]
            self.flush()
        if end:
            self.conn.end_stream(stream)
            self.flush()

    def stopped(self, stream: int) -> bool:
        return any(
            isinstance(e, h2.events.ConnectionTerminated)
            or (isinstance(e, h2.events.StreamReset) and e.stream_id == stream)
            for e in self.events
        )

    def receive(self, timeout_s: float = 5.0) -> bool:
        """Reads once; False when the server closed the connection."""
        self.sock.settimeout(timeout_s)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.events.extend(self.conn.receive_data(data))
        self.flush()
        return True

    def response(self, stream: int, timeout_s: float = 5.0) -> tuple[int, bytes]:
        """The status and body of ``stream``'s response."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status, body, ended = None, b"", False
            for event in self.events:
                if getattr(event, "stream_id", None) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                ended = ended or isinstance(event, h2.events.StreamEnded)
            if status is not None and ended:
                return status, body
            assert self.receive(), "the server closed the HTTP/2 connection"
        raise AssertionError(f"no response on stream {stream}")

    def goaway(self, timeout_s: float = 5.0) -> bool:
        """True when the server sends GOAWAY within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(isinstance(e, h2.events.ConnectionTerminated) for e in self.events):
                return True
            try:
                if not self.receive(max(deadline - time.monotonic(), 0.01)):
                    break
            except (TimeoutError, OSError):
                break
        return any(isinstance(e, h2.events.ConnectionTerminated) for e in self.events)


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def allowed(body: bytes) -> bool:
    return bool(json.loads(body)["response"]["allowed"])
