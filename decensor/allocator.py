"""Keep memory a page's fill has freed inside the process, for the next buffers to reuse.

A fill allocates and frees copies of its context window level by level (tens
of MB each on an A4 page). glibc maps the larger of these afresh and unmaps
them when freed, and gives the top of its heap back to the system as soon as
a little of it lies free, so the next buffer is faulted in again page by
page: on the speed benchmark's colour page that cost about a tenth of the
synthesis and made its time swing by a third from page to page (measured in
``benchmarks/TUNING.md``). Told to serve blocks up to its ceiling of 32 MB
from the heap and never to trim it, glibc hands the freed blocks out again;
the process keeps its largest footprint, which a batch needs again for its
next page anyway. Larger blocks (a huge page's own planes) are still mapped
and returned whole.

Only the command line calls this, for its own process and its workers: a
library user's process is theirs to tune. Elsewhere than glibc it does
nothing.
"""

import ctypes
import ctypes.util

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks below this come from the heap: glibc's ceiling for it (its own starts at 128 kB and climbs
# as mapped blocks are freed). Larger ones are mapped and given back whole: a huge page keeps none.
_HEAP_UP_TO = 32 * 2**20
# Trim only once this much lies free at the heap's top (the largest an int takes): never, in practice.
_NEVER_TRIM = 2**31 - 1


def keep_freed_memory():
    """Tell glibc's malloc to serve blocks up to 32 MB from its heap and keep what is freed; True if it took."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # (not glibc: nothing to tell)
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, _HEAP_UP_TO)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
