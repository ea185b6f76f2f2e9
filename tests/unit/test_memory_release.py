"""``kenner.server.memory``: free pages go back to the system after start-up.

Runs in a fresh interpreter, so the figures are that process's own: it fills 32 MB of the C
heap with 2 KiB objects (above pymalloc's 512-byte limit, so malloc serves them), keeps one in
a hundred (so glibc cannot return the heap's top by itself), frees the rest, and reads
``VmRSS`` before and after ``release_free_memory``.
"""

from __future__ import annotations

import json
import subprocess
import sys

_SCRIPT = """\
import json
from kenner.server.memory import _malloc_trim, release_free_memory

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

blocks = [bytes([n % 251]) * 2048 for n in range(16384)]
kept = blocks[::100]
del blocks
before = rss_kib()
release_free_memory()
print(json.dumps({"trim": _malloc_trim is not None, "before": before, "after": rss_kib()}))
"""


def test_free_heap_pages_are_returned() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    figures = json.loads(done.stdout)
    assert figures["trim"], "Debian's libc is glibc: malloc_trim must be found"
    # 32 MB were freed; at least 16 MB of it must leave the resident set.
    assert figures["before"] - figures["after"] > 16 * 1024, figures
