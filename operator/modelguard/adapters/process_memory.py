"""The operator process's memory allocator settings.

glibc gives each thread that allocates under contention an arena of its own (up to 8 per core) and seldom
returns their free pages. The operator runs many short allocations on its API, hashing and verification
threads, so arenas hold tens of MiB that nothing uses: at 300 AIModels + 300 AIDeployments its peak RSS
was 240 MiB with glibc's default and 180 MiB with two arenas, at the same settle time
(docs/adr/0016-operator-memory.md). The same as MALLOC_ARENA_MAX=2, set from inside so that every way of
starting the operator (the chart, the tests, a shell) gets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Limit glibc's malloc arenas (call before threads start); False when the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_ARENA_MAX, arenas))
