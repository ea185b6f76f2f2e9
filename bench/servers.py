"""Start the servers under test as their own processes on a loopback port and wait for them.

kenner logs the URL it bound only at info level, and the benchmark runs it at warning, so the
port is chosen here (a free loopback port) and readiness is a successful HTTPS ``GET`` of the
target's ready path. stdout and stderr go to a file in the scratch folder so a failed start can
show them.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
from tests.harness import HarnessError, Testbed, start_testbed

from bench.errors import BenchError

# kenner runs as the image installs it: from a virtual environment that `make bench` makes
# first with the product's dependencies only (`pip install .`, byte-compiled). The development
# environment has more (sigstore's rich, for one, which httpx then imports for its command
# line: 8 MB more memory).
KENNER_PYTHON = Path(__file__).resolve().parents[1] / "dist" / "bench-venv" / "bin" / "python"

_START_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 15.0

# The decision log writes one JSON line per request at info level; at warning it is off, so
# the benchmark measures admission, not stderr writes.
KENNER_LOG_LEVEL = "warning"


@attrs.frozen
class TlsFiles:
    """The serving certificate chain and key both servers use, and the CA that signed them."""

    cert: Path
    key: Path
    ca: Path


@attrs.frozen
class RunningServer:
    """A server process and the HTTPS URL it serves on."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time of the process so far; None where /proc is missing."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        # After the ")" that ends the command name come fields 3.. of proc(5);
        # utime and stime are fields 14 and 15.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset_peak_rss(self) -> bool:
        """Restart the process's peak RSS (``VmHWM``) from its current RSS, so that the peak
        read later is the one under load, not the start-up's; False where Linux refuses."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # proc(5)
        except OSError:
            return False
        return True

    def rss_mb(self, field: str = "VmRSS") -> float | None:
        """The process's resident memory (``VmRSS``, or ``VmHWM``: the peak) in MiB; None
        where /proc is missing."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
        return None


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(
    name: str, argv: list[str], port: int, ready_path: str, tls: TlsFiles, log_path: Path
) -> Iterator[RunningServer]:
    """Run ``argv`` (which must listen on ``port``) until the block ends.

    Yields once ``GET ready_path`` answers 200 over TLS checked against ``tls.ca``.

    Raises:
        BenchError: the process exited or was not ready in time.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        _wait_until_ready(name, process, port, ready_path, tls, log_path)
        yield RunningServer(name, process, f"https://127.0.0.1:{port}", log_path)
    finally:
        _stop(process)


def listen_argv(port: int, tls: TlsFiles) -> list[str]:
    """The listen address and TLS flags both ``kenner serve`` and ``bench.echo`` take."""
    return [f"--listen=127.0.0.1:{port}", f"--tls-cert={tls.cert}", f"--tls-key={tls.key}"]


@contextmanager
def kenner_serving(
    name: str, config: Path, tls: TlsFiles, log_path: Path
) -> Iterator[RunningServer]:
    """``kenner serve --config config`` on a free loopback port, until the block ends.

    Raises:
        BenchError: it exited or was not ready in time.
    """
    port = free_loopback_port()
    argv = [str(KENNER_PYTHON), "-m", "kenner", "serve", f"--config={config}"]
    argv += listen_argv(port, tls)
    with running_server(name, argv, port, "/ready", tls, log_path) as server:
        yield server


def _wait_until_ready(
    name: str,
    process: subprocess.Popen[bytes],
    port: int,
    ready_path: str,
    tls: TlsFiles,
    log_path: Path,
) -> None:
    context = ssl.create_default_context(cafile=str(tls.ca))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"{name} exited with {process.returncode} before it was ready:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        if _answers_200(port, ready_path, context):
            return
        time.sleep(0.05)
    raise BenchError(
        f"{name} did not answer GET {ready_path} on port {port} within "
        f"{_START_TIMEOUT_S:.0f} s:\n{log_path.read_text(errors='replace')}"
    )


def _answers_200(port: int, path: str, context: ssl.SSLContext) -> bool:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False  # not listening yet
    finally:
        connection.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


@contextmanager
def harness_testbed(
    state_dir: Path, *, what: str, leave_out: str, with_scenarios: bool = True
) -> Iterator[Testbed]:
    """The project's test bed (tests/harness: docker-registry, notary-server, notary-signer on
    127.0.0.1) for the length of the block.

    Raises:
        BenchError: it cannot start; the message names ``what`` failed and the ``leave_out``
            option that measures the rest.
    """
    try:
        testbed = start_testbed(state_dir, with_scenarios=with_scenarios)
    except HarnessError as error:
        raise BenchError(
            f"{what} cannot start ({error}); `python -m bench {leave_out}` measures the rest"
        ) from error
    try:
        yield testbed
    finally:
        testbed.stop()
