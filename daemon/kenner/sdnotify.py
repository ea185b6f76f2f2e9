"""systemd's notify protocol over a plain unix datagram socket (no libsystemd, no dependency).

``NOTIFY_SOCKET`` names the socket (a leading ``@`` is Linux's abstract namespace). kenner sends
``READY=1`` once serving, ``STATUS=`` with the readiness summary, ``RELOADING=1``/``READY=1``
around a SIGHUP reload, ``STOPPING=1`` on shutdown, and ``WATCHDOG=1`` every half of
``WATCHDOG_USEC``. The pings come from a trio task: when the event loop stalls they stop, and
systemd restarts the stuck process — which is the point of the watchdog.

Sending never blocks (the socket is non-blocking) and never raises: a lost notification is
logged, it must not take the webhook down.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import NoReturn

import trio

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to one socket address; does nothing when there is none."""

    def __init__(self, address: str | None) -> None:
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        self._socket: socket.socket | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """The notifier for ``NOTIFY_SOCKET`` (disabled when it is unset or empty)."""
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        """Whether a supervisor listens."""
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; True when it was handed to the kernel."""
        if self.address is None:
            return False
        message = "\n".join(assignments).encode("utf-8", errors="replace")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(message, self.address)
        except OSError as error:
            log.warning("sd_notify failed: %s", error, extra={"fields": {"message": assignments}})
            return False
        return True

    def reloading(self) -> bool:
        """``RELOADING=1`` with the monotonic timestamp systemd's notify-reload type asks for."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def close(self) -> None:
        """Close the socket (a later ``send`` opens a new one)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_period_s(env: Mapping[str, str] | None = None) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, or None when systemd expects no pings from us.

    ``WATCHDOG_PID``, when set, names the process that must ping; another process ignores it.
    """
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000


async def ping_watchdog(notifier: Notifier, period_s: float) -> NoReturn:
    """Send ``WATCHDOG=1`` every ``period_s`` seconds, from the trio loop, until cancelled."""
    while True:
        notifier.send("WATCHDOG=1")
        await trio.sleep(period_s)
