"""``python -m bench.hostile`` (``make hostile``): hostile load against a real kenner on loopback.

Starts ``kenner serve`` on 127.0.0.1 (static policy: ``registry.k8s.io`` approved, nothing else)
and, for a bounded time, runs side by side: a flood of concurrent keep-alive connections,
slowloris clients that send headers and then trickle or stall their body, oversized bodies,
HTTP/1.1 garbage, and HTTP/2 POSTs larger than ``maxBodyBytes``. A well-behaved client keeps
asking about a signed and an unsigned image and counts how many of its requests are answered.
Prints one line: requests tried, 5xx, admits of the unsigned image, crashes (connection errors
of the well-behaved client, daemon exit), RSS and open fds before and after.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio
import trustme
from tests.loopback.daemon import client_context, issue_certificate, start_daemon
from tests.support.reviews import pod_review

SECONDS = float(os.environ.get("KENNER_HOSTILE_SECONDS", "20"))
CONFIG = """
validators:
  - name: allow
    type: static
    approve: true
policy:
  - pattern: "registry.k8s.io/*:*"
    validator: allow
"""
SIGNED = json.dumps(pod_review("registry.k8s.io/pause:3.9")).encode()
UNSIGNED = json.dumps(pod_review("docker.io/library/nginx:1.27")).encode()
HEADERS = {"content-type": "application/json"}


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Counts:
    def __init__(self) -> None:
        self.tried = self.answered = self.server_errors = self.admits = self.crashes = 0
        self.attacks = 0


async def _good_client(url: str, context: ssl.SSLContext, counts: Counts, until: float) -> None:
    async with httpx.AsyncClient(verify=context, timeout=10.0) as client:
        while trio.current_time() < until:
            for body, signed in ((SIGNED, True), (UNSIGNED, False)):
                counts.tried += 1
                try:
                    answer = await client.post(f"{url}/mutate", content=body, headers=HEADERS)
                except httpx.HTTPError:
                    counts.crashes += 1
                    continue
                counts.answered += 1
                if answer.status_code >= 500:
                    counts.server_errors += 1
                elif (
                    answer.status_code == 200
                    and not signed
                    and answer.json()["response"]["allowed"]
                ):
                    counts.admits += 1
            await trio.sleep(0.05)


async def _raw(host: str, port: int, context: ssl.SSLContext, data: bytes, stall: float) -> None:
    try:
        stream = trio.SSLStream(
            await trio.open_tcp_stream(host, port), context, server_hostname=host
        )
        await stream.send_all(data)
        await trio.sleep(stall)
        await stream.aclose()
    except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def _attacks(url: str, context: ssl.SSLContext, counts: Counts, until: float) -> None:
    host, port_text = url.removeprefix("https://").rsplit(":", 1)
    port = int(port_text)
    big = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    stalled = (
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1048576\r\n\r\n{"
    )
    garbage = [
        b"\x16\x03\x01garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /mutate HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",
    ]
    h2 = httpx.AsyncClient(verify=context, http2=True, timeout=10.0)
    try:
        while trio.current_time() < until:
            async with trio.open_nursery() as nursery:
                for _ in range(50):  # slowloris: headers, then a stalled 1 MiB body
                    nursery.start_soon(_raw, host, port, context, stalled, 3.0)
                for data in garbage:
                    nursery.start_soon(_raw, host, port, context, data, 0.5)
                for _ in range(20):  # a burst of fresh connections
                    nursery.start_soon(
                        _raw, host, port, context, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 0.1
                    )
                counts.attacks += 73
                for client_body in (big, big[: 4 * 1024 * 1024]):
                    with contextlib.suppress(httpx.HTTPError):
                        await h2.post(f"{url}/mutate", content=client_body, headers=HEADERS)
                    counts.attacks += 1
    finally:
        await h2.aclose()


async def _run(url: str, context: ssl.SSLContext, counts: Counts) -> None:
    until = trio.current_time() + SECONDS
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_good_client, url, context, counts, until)
        nursery.start_soon(_attacks, url, context, counts, until)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kenner-hostile-") as scratch:
        folder = Path(scratch)
        ca = trustme.CA()
        (folder / "kenner.yaml").write_text(CONFIG)
        cert, key = issue_certificate(ca, folder)
        daemon = start_daemon(folder, folder / "kenner.yaml", cert, key)
        pid = daemon.process.pid
        rss_before, fds_before = _status(pid, "VmRSS"), _fds(pid)
        counts = Counts()
        started = time.monotonic()
        trio.run(_run, daemon.url, client_context(ca), counts)
        time.sleep(1.0)
        alive = daemon.process.poll() is None
        rss_after = _status(pid, "VmRSS") if alive else 0
        fds_after = _fds(pid) if alive else 0
        daemon.stop()
    print(
        f"kenner hostile: {time.monotonic() - started:.0f} s; well-behaved requests tried "
        f"{counts.tried}, answered {counts.answered}; hostile attempts {counts.attacks}; "
        f"5xx {counts.server_errors}; admits {counts.admits}; crashes {counts.crashes}"
        f"{'' if alive else ' + daemon exited'}; RSS {rss_before // 1024} MB -> "
        f"{rss_after // 1024} MB; fds {fds_before} -> {fds_after}"
    )
    return 0 if alive and not (counts.server_errors or counts.admits or counts.crashes) else 1


if __name__ == "__main__":
    sys.exit(main())
