"""What the machine offers: CPU model and bfloat16 instructions, matrix-multiply peaks.

The report names the CPU and whether it has AMX (``amx_tile``, ``amx_bf16``: Intel Xeon
since Sapphire Rapids) and AVX-512 bfloat16 (``avx512_bf16``: AMD EPYC since Zen 4,
Intel since Cooper Lake), because bfloat16 speed depends on them: oneDNN runs bfloat16
products on AMX tiles several times faster than float32, on ``avx512_bf16`` about twice
as fast, and without either no faster.  Both peaks are measured in the same run as the
rows whose MFU they define.
"""

from __future__ import annotations

import os
import time

BF16_FLAGS = ("amx_tile", "amx_bf16", "avx512_bf16", "avx512f")


def cpu_report() -> dict:
    """CPU model name, logical core count and the bfloat16-relevant flags (Linux)."""
    name, flags = library_module("hardware").cpu_info()
    return {
        "model": name,
        "cores": os.cpu_count(),
        "flags": {flag: flag in flags for flag in BF16_FLAGS},
    }


def describe_cpu(cpu: dict) -> str:
    """One line: ``AMD EPYC ... x2; AMX no, AVX-512 bf16 yes``."""
    flags = cpu["flags"]
    amx = "yes" if flags["amx_tile"] and flags["amx_bf16"] else "no"
    bf16 = "yes" if flags["avx512_bf16"] else "no"
    return f"{cpu['model']} x{cpu['cores']}; AMX (amx_bf16) {amx}, AVX-512 bf16 {bf16}"


def _best_seconds(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_peaks(n: int = 2048, repeats: int = 5) -> dict:
    """Best ``n x n`` matmul rates in GFLOP/s, all cores.

    ``{"float32": {"numpy", "torch", "peak"}, "bfloat16": {"torch", "peak"}}``: float32 from
    numpy and torch, bfloat16 from torch (oneDNN; there is no bfloat16 BLAS in numpy).
    On a CPU without bfloat16 instructions (neither AVX-512 bf16 nor AMX) bfloat16
    products run as float32 ones (the library's) or emulated (PyTorch's, about 0.3
    GFLOP/s, minutes at this size): the bfloat16 peak is then the float32 one
    (``"as_float32": True``), not measured.
    """
    import numpy as np

    flops = 2.0 * n**3
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    f32 = {"numpy": flops / _best_seconds(lambda: a @ b, repeats) / 1e9}
    bf16 = {}
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        f32["torch"] = flops / _best_seconds(lambda: ta @ tb, repeats) / 1e9
        if library_module("hardware").bfloat16_instructions():
            ha, hb = ta.to(torch.bfloat16), tb.to(torch.bfloat16)
            bf16["torch"] = flops / _best_seconds(lambda: ha @ hb, repeats) / 1e9
    except ImportError:  # pragma: no cover
        pass
    f32["peak"] = max(f32.values())
    if bf16:
        bf16["peak"] = max(bf16.values())
    else:
        bf16 = {"peak": f32["peak"], "as_float32": True}
    return {"float32": f32, "bfloat16": bf16}


def peak_for(peaks: dict, precision: str) -> float | None:
    """The peak that a row of ``precision`` is measured against."""
    return peaks["bfloat16" if precision == "mixed_bfloat16" else "float32"]["peak"]


def library_module(name: str):
    """The library's module `seq2seq.<name>` (a module that imports no Keras at load),
    loaded from its file.

    Loading the file instead of importing the package neither picks a Keras backend nor
    imports Keras, so the heap settings can come before Keras starts its threads (and a
    process that measures native PyTorch never imports the library at all).
    """
    import importlib
    import importlib.util

    from benchmarks.common import REPO_ROOT

    path = REPO_ROOT / "src" / "seq2seq" / f"{name}.py"
    if not path.exists():  # an installed library
        return importlib.import_module(f"seq2seq.{name}")
    spec = importlib.util.spec_from_file_location(f"seq2seq_{name}_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keep_library_heap() -> bool:
    """Applies the library's glibc heap settings to this process (`keep_heap()`).

    Every process that measures the library calls it before importing Keras: `import
    seq2seq` does not apply them as a side effect, a program that wants them asks.
    `SEQ2SEQ_KEEP_HEAP=0` turns them off, as for the library's command line.
    """
    return library_module("allocator").keep_heap()
