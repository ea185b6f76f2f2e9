"""Start and stop the test bed's service processes, strictly by recorded PID.

Each service runs in its own session (so a Ctrl-C in the terminal does not hit it), its PID is
written to ``STATE/run/NAME.pid`` and its output goes to ``STATE/logs/NAME.log``. Before a PID
is signalled we check that ``/proc/PID/exe`` is the expected binary and that its command line
mentions the state dir, so a recycled PID is never hit. Nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from tests.harness.errors import HarnessError

_STOP_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.05
_EXEC_SECONDS = 5.0


@attrs.frozen
class Service:
    """How to run one service of a state dir (pure description, no running state)."""

    name: str
    binary: str
    args: tuple[str, ...]
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    def executable(self) -> str:
        path = shutil.which(self.binary)
        if path is None:
            raise HarnessError(f"{self.name}: binary {self.binary!r} not found on PATH")
        return os.path.realpath(path)


def spawn(service: Service) -> int:
    """Start the service in a new session and record its PID."""
    executable = service.executable()
    service.pid_file.parent.mkdir(parents=True, exist_ok=True)
    service.log_file.parent.mkdir(parents=True, exist_ok=True)
    pid = os.posix_spawn(
        executable,
        # argv[0] is the name, not the resolved path: Debian's redis-server is a link to
        # redis-check-rdb, one binary that acts by the name it is called with.
        [service.binary, *service.args],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(service.log_file), os.O_WRONLY | os.O_CREAT, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    service.pid_file.write_text(f"{pid}\n")
    _wait_exec(service, pid)
    return pid


def _wait_exec(service: Service, pid: int) -> None:
    # posix_spawn may return before the child has exec'd (glibc forks instead of vforking when
    # setsid is requested); until then /proc/PID/exe is still the Python interpreter.
    deadline = time.monotonic() + _EXEC_SECONDS
    while not owns(service, pid):
        if not is_alive(pid) or time.monotonic() >= deadline:
            raise HarnessError(f"{service.name} (pid {pid}) did not start: {_log_tail(service)}")
        time.sleep(_POLL_SECONDS / 10)


def recorded_pid(service: Service) -> int | None:
    """The PID in the service's pid file, if there is a well-formed one."""
    try:
        text = service.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _reap(pid: int) -> None:
    # Our own children stay zombies until waited for; reap them. Processes started by another
    # Python process (CLI `up`, reused state dir) are not our children: nothing to reap.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in {"Z", "X"}


def owns(service: Service, pid: int) -> bool:
    """True if ``pid`` runs the service's binary with a command line in the state dir."""
    try:
        exe = os.path.realpath(f"/proc/{pid}/exe", strict=True)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return exe == service.executable() and str(service.state_dir) in cmdline


def running_pid(service: Service) -> int | None:
    """The recorded PID if that process is alive and really is this service."""
    pid = recorded_pid(service)
    if pid is None or not is_alive(pid) or not owns(service, pid):
        return None
    return pid


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def stop(service: Service) -> int | None:
    """Stop the service by its recorded PID: SIGTERM, then SIGKILL after a grace period.

    Returns:
        The PID that was stopped, or None if nothing of ours was running.

    Raises:
        HarnessError: the process survived SIGKILL.
    """
    pid = running_pid(service)
    if pid is None:
        service.pid_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, _STOP_GRACE_SECONDS):
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, _STOP_GRACE_SECONDS / 2):
            raise HarnessError(f"{service.name} (pid {pid}) survived SIGKILL")
    service.pid_file.unlink(missing_ok=True)
    return pid


def wait_ready(service: Service, probe: Callable[[], bool], seconds: float) -> None:
    """Poll ``probe`` until it returns True, failing fast if the process exits.

    Raises:
        HarnessError: the process died or the deadline passed; the message has the log tail.
    """
    deadline = time.monotonic() + seconds
    while True:
        if running_pid(service) is None:
            raise HarnessError(f"{service.name} exited during start-up: {_log_tail(service)}")
        if probe():
            return
        if time.monotonic() >= deadline:
            raise HarnessError(
                f"{service.name} not ready after {seconds:.0f} s: {_log_tail(service)}"
            )
        time.sleep(_POLL_SECONDS)


def _log_tail(service: Service, lines: int = 8) -> str:
    try:
        text = service.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {service.log_file})"
    return f"log {service.log_file}:\n" + "\n".join(text.splitlines()[-lines:])
