"""What the machine multiplies fast: the CPU's model and flags, and the precision to train in.

bfloat16 products pay on a CPU with bfloat16 instructions (``avx512_bf16``: AMD EPYC
since Zen 4, Intel since Cooper Lake; ``amx_bf16``: Intel Xeon since Sapphire Rapids)
and on accelerators. On a CPU without them (AVX2 only) they are converted to float32
and run slower than float32 itself: a g2p training step took 1.8x as long under
`mixed_bfloat16` as in float32 on such a CPU (docs/results.md). The float32 LSTM's own
kernels (oneDNN's LSTM, `seq2seq.native`'s loops above 128 units) pay with AVX-512 only
(`avx512`).
"""

import functools
import platform

BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_info() -> tuple[str, frozenset[str]]:
    """The CPU's model name and its flags, from `/proc/cpuinfo` (empty flags elsewhere)."""
    name, flags = None, frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if name is None and line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = frozenset(line.split(":", 1)[1].split())
                if name is not None and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or "unknown", flags


def accelerated() -> bool:
    """Whether Keras' backend computes on an accelerator (a GPU or TPU), not the CPU."""
    import keras

    if keras.backend.backend() == "torch":  # no `keras.distribution` there
        import torch

        return torch.cuda.is_available()
    devices = keras.distribution.list_devices()
    return bool(devices) and not str(devices[0]).lower().startswith("cpu")


def avx512() -> bool:
    """Whether the CPU has AVX-512 (`avx512f`).

    Without it (AVX2 only) XLA's own loop runs the float32 LSTM faster than oneDNN's
    LSTM and than `seq2seq.native`'s backward loop above 128 units: every model at
    hidden 256 and 512 trained at 0.86-1.44x PyTorch's speed on XLA's loops against
    0.39-1.24x on those kernels (docs/benchmarks.md, "An AVX2-only CPU"), so the JAX
    layers keep XLA's loops there. Up to 128 units the native loops (built for AVX2
    there) stay the faster ones on either CPU.
    """
    return "avx512f" in cpu_info()[1]


def bfloat16_instructions() -> bool:
    """Whether the CPU has bfloat16 instructions (`BFLOAT16_FLAGS`)."""
    return any(flag in cpu_info()[1] for flag in BFLOAT16_FLAGS)


def fast_precision() -> str:
    """`"mixed_bfloat16"` where bfloat16 products are faster than float32 ones (an
    accelerator, or a CPU with bfloat16 instructions), else `"float32"`."""
    return "mixed_bfloat16" if accelerated() or bfloat16_instructions() else "float32"
