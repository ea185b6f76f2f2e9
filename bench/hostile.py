"""``python -m bench.hostile`` (``make hostile``): hostile load against a real kenner on loopback.

Starts ``kenner serve`` on 127.0.0.1 (static policy: ``registry.k8s.io`` approved, nothing else)
and, for ``KENNER_HOSTILE_SECONDS`` (20 s), repeats rounds of: 1 MiB bodies stalled one byte
short, slowloris bodies trickled a byte every 0.5 s, headers never finished, bodies announced at
64 MiB, TLS and HTTP/1.1 garbage, a 70 kB header, a burst of fresh connections, and (unless
``KENNER_HOSTILE_H2=0``) HTTP/2 POSTs larger than ``maxBodyBytes``. A well-behaved client keeps
asking about a signed and an unsigned image meanwhile. One line is printed: its requests tried
and answered, the hostile attempts, 5xx, admits of the unsigned image, crashes (failed
well-behaved requests, daemon exit), RSS and open fds before and after. Exit code 1 on any
5xx, admit or crash.
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
from tests.loopback.daemon import ALLOW_REGISTRY_K8S, client_context, start_daemon
from tests.support.reviews import pod_review

SECONDS = float(os.environ.get("KENNER_HOSTILE_SECONDS", "20"))
# KENNER_HOSTILE_H2=0 leaves out the HTTP/2 oversized POSTs (while they kill the daemon, issue
# 11.6, nothing else can be measured)
WITH_H2 = os.environ.get("KENNER_HOSTILE_H2", "1") != "0"
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
        self.slowest = 0.0  # seconds, of the well-behaved client's answered requests


async def _good_client(url: str, context: ssl.SSLContext, counts: Counts, until: float) -> None:
    async with httpx.AsyncClient(verify=context, timeout=10.0) as client:
        while trio.current_time() < until:
            for body, signed in ((SIGNED, True), (UNSIGNED, False)):
                counts.tried += 1
                asked = trio.current_time()
                try:
                    answer = await client.post(f"{url}/mutate", content=body, headers=HEADERS)
                except httpx.HTTPError:
                    counts.crashes += 1
                    continue
                counts.answered += 1
                counts.slowest = max(counts.slowest, trio.current_time() - asked)
                if answer.status_code >= 500:
                    counts.server_errors += 1
                elif (
                    answer.status_code == 200
                    and not signed
                    and answer.json()["response"]["allowed"]
                ):
                    counts.admits += 1
            await trio.sleep(0.05)


async def _raw(
    host: str, port: int, context: ssl.SSLContext, data: bytes, stall: float, trickle: int = 0
) -> None:
    """Send ``data``, then ``trickle`` more bytes one every 0.5 s, then hold the connection."""
    with contextlib.suppress(OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        tcp = await trio.open_tcp_stream(host, port)
        stream = trio.SSLStream(tcp, context, server_hostname=host)
        await stream.send_all(data)
        for _ in range(trickle):
            await trio.sleep(0.5)
            await stream.send_all(b" ")
        await trio.sleep(stall)
        await stream.aclose()


def _post_head(length: int) -> bytes:
    return (
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


async def _attacks(url: str, context: ssl.SSLContext, counts: Counts, until: float) -> None:
    host, port_text = url.removeprefix("https://").rsplit(":", 1)
    port = int(port_text)
    mib = 1024 * 1024
    big = b"{" + b" " * (5 * mib) + b"}"
    # (what, bytes sent, seconds held after sending, bytes trickled, connections per round)
    raw_attacks = [
        ("stalled 1 MiB body", _post_head(mib) + b"{" + b" " * (mib - 2), 5.0, 0, 50),
        ("slowloris trickle", _post_head(mib) + b"{", 0.0, 10, 20),
        ("headers only", _post_head(100)[:-2], 5.0, 0, 20),
        ("oversized body", _post_head(64 * mib) + b" " * mib, 0.5, 0, 5),
        ("TLS garbage", b"\x16\x03\x01garbage\r\n\r\n", 0.5, 0, 5),
        ("bad HTTP version", b"GET / HTTP/9.9\r\n\r\n", 0.5, 0, 5),
        ("huge header", b"POST /mutate HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 0.5, 0, 5),
        ("connection burst", b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 0.1, 0, 50),
    ]
    h2 = httpx.AsyncClient(verify=context, http2=True, timeout=10.0)
    try:
        while trio.current_time() < until:
            async with trio.open_nursery() as nursery:
                for _what, data, stall, trickle, count in raw_attacks:
                    for _ in range(count):
                        nursery.start_soon(_raw, host, port, context, data, stall, trickle)
                        counts.attacks += 1
                for body in (big, big[: 4 * mib]) if WITH_H2 else ():
                    with contextlib.suppress(httpx.HTTPError):
                        await h2.post(f"{url}/mutate", content=body, headers=HEADERS)
                    counts.attacks += 1
            await trio.sleep(0.1)
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
        config = folder / "kenner.yaml"
        config.write_text(ALLOW_REGISTRY_K8S)
        daemon = start_daemon(folder, config, ca)
        try:  # stop the daemon (by its PID) whatever happens to the load
            pid = daemon.process.pid
            rss_before, fds_before = _status(pid, "VmRSS"), _fds(pid)
            counts = Counts()
            started = time.monotonic()
            trio.run(_run, daemon.url, client_context(ca), counts)
            time.sleep(1.0)
            alive = daemon.process.poll() is None
            rss_after = _status(pid, "VmRSS") if alive else 0
            fds_after = _fds(pid) if alive else 0
            if not alive:  # say how it died: the last lines of its log
                last = daemon.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                print("kenner exited; its log ends with:\n" + "\n".join(x[-600:] for x in last))
        finally:
            daemon.stop()
    print(
        f"kenner hostile: {time.monotonic() - started:.0f} s; well-behaved requests tried "
        f"{counts.tried}, answered {counts.answered} (slowest {counts.slowest:.2f} s); "
        f"hostile attempts {counts.attacks}; "
        f"5xx {counts.server_errors}; admits {counts.admits}; crashes {counts.crashes}"
        f"{'' if alive else ' + daemon exited'}; RSS {rss_before // 1024} MB -> "
        f"{rss_after // 1024} MB; fds {fds_before} -> {fds_after}"
    )
    return 0 if alive and not (counts.server_errors or counts.admits or counts.crashes) else 1


if __name__ == "__main__":
    sys.exit(main())
