"""Keeps freed memory in the process heap so that compiled steps do not page-fault.

XLA on the CPU allocates a step's temporary buffers afresh for every execution. With
glibc's default settings the heap top is returned to the system after each step and
touched again in the next one, so every step pays thousands of page faults (on the
project's machine about 10,000 per SimpleSeq2Seq step at hidden 256, a fifth of the
step's time). Padding the heap top (`M_TOP_PAD`) keeps those pages mapped.

`import seq2seq` calls `tune_heap()` once. It does nothing outside glibc (macOS,
Windows, musl) and nothing when `SEQ2SEQ_HEAP_PAD_MB=0`; the variable also sets the
pad in MiB (default 256). The cost is at most that much resident memory kept after
it is freed.
"""

import ctypes
import ctypes.util
import os
import sys

DEFAULT_PAD_MB = 256
_M_TOP_PAD = -2  # glibc malloc.h


def heap_pad_bytes(environ=None) -> int:
    """The pad asked for by `SEQ2SEQ_HEAP_PAD_MB` (MiB), in bytes; 0 turns tuning off."""
    environ = os.environ if environ is None else environ
    raw = environ.get("SEQ2SEQ_HEAP_PAD_MB", str(DEFAULT_PAD_MB))
    try:
        megabytes = int(raw)
    except ValueError:
        raise ValueError(
            "Invalid value for environment variable `SEQ2SEQ_HEAP_PAD_MB`. Expected a "
            f"non-negative integer number of MiB. Received: {raw!r}"
        ) from None
    if megabytes < 0:
        raise ValueError(
            "Invalid value for environment variable `SEQ2SEQ_HEAP_PAD_MB`. Expected a "
            f"non-negative integer number of MiB. Received: {raw!r}"
        )
    return megabytes * 1024 * 1024


def tune_heap(environ=None) -> bool:
    """Sets glibc's `M_TOP_PAD`; returns whether it was set."""
    pad = heap_pad_bytes(environ)
    if pad == 0 or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TOP_PAD, min(pad, 2**31 - 1)))
