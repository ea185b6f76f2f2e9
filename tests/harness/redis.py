"""Debian's ``redis-server`` on a free loopback port, for the shared-state (Redis) tests.

Installed with apt-get when absent and root, like notary and docker-registry
(``tests.harness.packages``); without root the caller turns ``TestbedUnavailable`` into a skip.
The server keeps nothing on disk, needs a password, and keeps its command line (``set-proc-title
no``) so that it is stopped strictly by its recorded PID (``tests.harness.processes``).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
from pathlib import Path

import attrs

from tests.harness import processes
from tests.harness.errors import HarnessError
from tests.harness.packages import ensure_packages
from tests.harness.processes import Service
from tests.harness.web import free_port

PACKAGES = {"redis-server": ("redis-server",)}
_READY_SECONDS = 10.0


@attrs.frozen
class RedisServer:
    """One redis-server of a state dir; ``start`` and ``stop`` may be called repeatedly."""

    state_dir: Path
    port: int
    password: str = attrs.field(repr=False)
    # (certificate chain, key, CA) for TLS only on ``port`` (rediss://), or None for plain.
    tls: tuple[Path, Path, Path] | None = None

    @property
    def service(self) -> Service:
        return Service("redis", "redis-server", (str(self.config_file),), self.state_dir)

    @property
    def config_file(self) -> Path:
        return self.state_dir / "redis.conf"

    @property
    def url(self) -> str:
        """``redis://:PASSWORD@127.0.0.1:PORT/0`` (``rediss://`` with TLS)."""
        scheme = "redis" if self.tls is None else "rediss"
        return f"{scheme}://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (again) on its port and wait until it answers PING.

        Raises:
            HarnessError: it did not start or answer.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.tls is None:
            listen = [f"port {self.port}"]
        else:
            chain, key, ca = self.tls
            listen = [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {chain}",
                f"tls-key-file {key}",
                f"tls-ca-cert-file {ca}",
                "tls-auth-clients no",
            ]
        self.config_file.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    *listen,
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    'save ""',
                    "appendonly no",
                    f"dir {self.state_dir}",
                    "set-proc-title no",
                    "daemonize no",
                    'logfile ""',
                    "",
                ]
            )
        )
        processes.spawn(self.service)
        processes.wait_ready(self.service, self.answers, _READY_SECONDS)

    def stop(self) -> None:
        """Stop the server by its recorded PID (SIGTERM, then SIGKILL)."""
        processes.stop(self.service)

    def answers(self) -> bool:
        """True when the server answers an authenticated PING."""
        return self.command(b"PING") == b"+PONG\r\n"

    def command(self, *words: bytes) -> bytes | None:
        """One raw RESP command after AUTH; its first reply chunk, or None when unreachable."""
        request = _resp(b"AUTH", self.password.encode()) + _resp(*words)
        try:
            with contextlib.ExitStack() as stack:
                sock = stack.enter_context(
                    socket.create_connection(("127.0.0.1", self.port), timeout=2)
                )
                if self.tls is not None:
                    context = ssl.create_default_context(cafile=str(self.tls[2]))
                    sock = stack.enter_context(
                        context.wrap_socket(sock, server_hostname="127.0.0.1")
                    )
                sock.sendall(request)
                reply = b""
                while reply.count(b"\r\n") < 2 or not reply.startswith(b"+OK\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return None
        if not reply.startswith(b"+OK\r\n"):
            raise HarnessError(f"redis-server refused AUTH: {reply[:200]!r}")
        return reply[len(b"+OK\r\n") :]


def _resp(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def start_redis(state_dir: Path, tls: tuple[Path, Path, Path] | None = None) -> RedisServer:
    """Install redis-server if needed and start it on a free port under ``state_dir`` (with
    ``tls``: TLS only, from these certificate chain, key and CA files).

    Raises:
        TestbedUnavailable: it is not installed and cannot be (not root).
        HarnessError: it was installed but did not start.
    """
    ensure_packages(PACKAGES)
    server = RedisServer(state_dir, free_port(), secrets.token_hex(16), tls)
    server.start()
    return server
