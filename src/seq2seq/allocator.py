"""Keeps freed memory in the process heap so that compiled steps do not page-fault.

XLA on the CPU allocates a step's temporary buffers afresh for every execution, on its
worker threads. With glibc's default settings large buffers are mapped and unmapped
each time (or come from per-thread arenas that are trimmed), so every training step
touches fresh pages: on the project's machine about 10,000 page faults per
SimpleSeq2Seq step and 41,000 per AttentionSeq2Seq step at hidden 256, a fifth to a
quarter of the step's time. One arena, no `mmap` for large blocks and no trimming keep
those pages mapped and reused (measured: 0.6 faults per step; see docs/benchmarks.md).

A process-wide setting, so it is an explicit call, never a side effect of
`import seq2seq`: the `seq2seq` command and the benchmarks make it at start, and a
program that trains with the library makes it itself, once, before Keras starts its
threads (before the first model is built):

    import seq2seq.allocator

    seq2seq.allocator.keep_heap()

It does nothing outside glibc (macOS, Windows, musl) or when `SEQ2SEQ_KEEP_HEAP=0` (which
turns it off for the command too). The cost: the process keeps its peak heap size
instead of returning freed memory to the system. A program can also be started with
the same settings in its environment (`glibc_environment()`), as the benchmarks start
their PyTorch reference.
"""

import ctypes
import os
import platform
import sys

# glibc's malloc.h parameter, its value here, and the environment variable that sets
# it at process start (for programs that do not import seq2seq, such as the PyTorch
# reference of the benchmarks).
_SETTINGS = (
    (-8, 1, "MALLOC_ARENA_MAX"),  # every thread allocates from the main arena
    (-4, 0, "MALLOC_MMAP_MAX_"),  # large blocks come from the heap, not fresh mappings
    (-1, 2**31 - 1, "MALLOC_TRIM_THRESHOLD_"),  # never give the heap top back
    (-2, 64 * 1024 * 1024, "MALLOC_TOP_PAD_"),  # grow the heap in 64 MiB steps
)


def glibc_environment() -> dict:
    """The same settings as glibc environment variables."""
    return {name: str(value) for _, value, name in _SETTINGS}


def keep_heap_enabled(environ=None) -> bool:
    """Whether `SEQ2SEQ_KEEP_HEAP` (default `1`) asks for the tuning."""
    environ = os.environ if environ is None else environ
    raw = environ.get("SEQ2SEQ_KEEP_HEAP", "1").strip()
    if raw not in ("0", "1"):
        raise ValueError(
            "Invalid value for environment variable `SEQ2SEQ_KEEP_HEAP`. Expected '1' "
            f"(keep freed memory in the heap) or '0' (glibc's defaults). Received: {raw!r}"
        )
    return raw == "1"


def keep_heap(environ=None) -> bool:
    """Applies the glibc settings above to this process; returns whether they were applied.

    Call it once, early (see the module's docstring). `environ` (default `os.environ`)
    is read for `SEQ2SEQ_KEEP_HEAP`.

    Raises:
        ValueError: `SEQ2SEQ_KEEP_HEAP` is neither `0` nor `1`.
    """
    if not keep_heap_enabled(environ) or not sys.platform.startswith("linux"):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:  # glibc's soname; `ctypes.util.find_library` would spawn `ldconfig` at import
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value, _ in _SETTINGS)
