"""Run ``kenner serve`` as a real process on 127.0.0.1 port 0 and talk to it over TLS."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import attrs
import trustme

# A static policy: registry.k8s.io approved, nothing else (the policy list comes last, so a
# caller may append rules).
ALLOW_REGISTRY_K8S = """
validators:
  - name: allow
    type: static
    approve: true
policy:
  - pattern: "registry.k8s.io/*:*"
    validator: allow
"""


@attrs.define
class RunningDaemon:
    """A ``kenner serve`` process, its log file and the URL it bound."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def wait_for_log(self, message: str, count: int = 1, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sum(1 for line in self.log_lines() if message in str(line.get("message"))) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"no log line {message!r}:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 15 s; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def issue_certificate(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    """A serving certificate for 127.0.0.1 signed by ``ca``, written as PEM files."""
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "tls.crt", folder / "tls.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return cert, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def start_daemon(folder: Path, config: Path, ca: trustme.CA) -> RunningDaemon:
    """Start ``python -m kenner serve`` on a certificate from ``ca``; wait for its address.

    The certificate and key are written to ``folder`` as ``tls.crt``/``tls.key``.
    """
    cert, key = issue_certificate(ca, folder)
    log_path = folder / "kenner.log"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "daemon"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kenner",
                "serve",
                "--config",
                str(config),
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                str(cert),
                "--tls-key",
                str(key),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    daemon = RunningDaemon(process, log_path, "")
    try:
        daemon.wait_for_log("kenner is serving")
    except AssertionError:
        daemon.stop()
        raise
    line = next(x for x in daemon.log_lines() if x.get("message") == "kenner is serving")
    binds = line["binds"]
    assert isinstance(binds, list)
    daemon.url = str(binds[0])
    return daemon
