"""Hand the memory that start-up and reloads leave free back to the operating system.

Loading a configuration (YAML, cattrs' generated structuring code, certificates) and the
imports before it allocate far more than the process keeps. Python frees that memory to the C
allocator, which keeps most of it: glibc returns only the free top of its heap by itself.
``malloc_trim(0)`` gives back every free page (measured: 2.4 MB after loading a static
configuration, docs/benchmarks.md). It exists only in glibc; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable

_MallocTrim = Callable[[int], int]


def _find_malloc_trim() -> _MallocTrim | None:
    try:  # the symbols the process has loaded already, libc's among them
        trim: _MallocTrim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


_malloc_trim = _find_malloc_trim()


def release_free_memory() -> None:
    """Collect the garbage, then return the allocator's free pages to the system."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)


def settle_after_start() -> None:
    """Once everything that lives as long as the process is loaded, before serving.

    Frees what start-up left, then moves what is left out of the collector's reach
    (``gc.freeze``), so that a full collection under load scans only what the requests
    allocate (measured: docs/benchmarks.md, "Warm path").
    """
    release_free_memory()
    gc.freeze()
