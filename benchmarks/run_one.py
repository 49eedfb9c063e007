"""One measurement in a fresh process; prints one JSON line on stdout.

Examples::

    python -m benchmarks.run_one --impl torch --model attention --hidden 256
    KERAS_BACKEND=jax python -m benchmarks.run_one --impl library --model simple --hidden 256
    python -m benchmarks.run_one --impl library --model attention_real --cell gru \
        --precision mixed_bfloat16
    KERAS_BACKEND=tensorflow python -m benchmarks.run_one --impl keras_seed --model simple
    python -m benchmarks.run_one --task generate --impl torch --strategy beam --hidden 256

The parent (``benchmarks.run``) launches one such process per measurement so that peak
memory (``ru_maxrss``) and the Keras backend are isolated per measurement.  A process that
measures the library applies the library's glibc heap settings first
(``seq2seq.allocator.keep_heap()``, an explicit call: importing the library does not).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback

from benchmarks.common import (
    BATCH,
    BEAM_WIDTH,
    CELLS,
    GEN_SEQUENCES,
    LENGTH,
    MODELS,
    PRECISIONS,
    default_steps,
    self_maxrss_mb,
    train_flops,
)

IMPLS = ("torch", "keras_seed", "library")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impl", choices=IMPLS, required=True)
    p.add_argument("--task", choices=("train", "generate"), default="train")
    p.add_argument("--model", choices=MODELS, default="simple")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--length", type=int, default=LENGTH, help="input and output length")
    p.add_argument("--batch", type=int, default=BATCH)
    p.add_argument("--cell", choices=CELLS, default="lstm")
    p.add_argument("--precision", choices=PRECISIONS, default="float32")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: by FLOPs)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--strategy", choices=("greedy", "beam"), default="greedy")
    p.add_argument("--sequences", type=int, default=GEN_SEQUENCES)
    p.add_argument("--gen-batch", type=int, default=GEN_SEQUENCES)
    p.add_argument("--beam-width", type=int, default=BEAM_WIDTH)
    p.add_argument("--gen-repeats", type=int, default=1)
    return p.parse_args(argv)


def _backend_name(impl: str) -> str:
    if impl == "torch":
        return "native"
    return os.environ.get("KERAS_BACKEND", "jax")


def _module(impl: str):
    if impl == "torch":
        from benchmarks import torch_reference as mod
    elif impl == "keras_seed":
        from benchmarks import keras_seed as mod
    else:
        from benchmarks import library_impl as mod
    return mod


def main(argv=None) -> int:
    args = parse_args(argv)
    record = {
        "impl": args.impl,
        "backend": _backend_name(args.impl),
        "task": args.task,
        "model": args.model if args.task == "train" else "attention",
        "hidden": args.hidden,
        "length": args.length,
        "batch": args.batch,
        "cell": args.cell,
        "precision": args.precision,
        "python": platform.python_version(),
    }
    try:
        if args.impl == "library":
            from benchmarks.machine import keep_library_heap

            record["heap_kept"] = keep_library_heap()
        if args.impl != "torch":
            os.environ.setdefault("KERAS_BACKEND", "jax")
            import keras

            record["keras"] = keras.__version__
            if keras.backend.backend() == "torch":
                import torch

                torch.set_num_threads(os.cpu_count() or 1)
        else:
            import torch

            record["torch"] = torch.__version__
        mod = _module(args.impl)
        record["base_rss_mb"] = self_maxrss_mb()
        t0 = time.perf_counter()
        if args.task == "train":
            steps = args.steps or default_steps(args.model, args.hidden, args.length)
            res = mod.time_training(
                args.model,
                args.hidden,
                steps=steps,
                warmup=args.warmup,
                batch=args.batch,
                length=args.length,
                cell=args.cell,
                precision=args.precision,
            )
            flops = train_flops(
                args.model,
                args.hidden,
                batch=args.batch,
                length_in=args.length,
                length_out=args.length,
                cell=args.cell,
            )
            record.update(res)
            record.update(
                {
                    "steps": steps,
                    "warmup": args.warmup,
                    "samples_per_s": steps * args.batch / res["elapsed_s"],
                    "step_ms": 1e3 * res["elapsed_s"] / steps,
                    "train_flops_per_step": flops,
                    "achieved_gflops": flops * steps / res["elapsed_s"] / 1e9,
                }
            )
        else:
            res = mod.time_generation(
                args.hidden,
                args.strategy,
                n=args.sequences,
                length=args.length,
                beam_width=args.beam_width,
                batch=args.gen_batch,
                repeats=args.gen_repeats,
                cell=args.cell,
                precision=args.precision,
            )
            record.update(res)
            record.update(
                {
                    "strategy": args.strategy,
                    "beam_width": args.beam_width if args.strategy == "beam" else 1,
                    "sequences": args.sequences,
                    "sequences_per_s": args.sequences / res["elapsed_s"],
                }
            )
        record["total_s"] = time.perf_counter() - t0
        record["ok"] = True
    except Exception as exc:  # report, never crash the harness
        record["ok"] = False
        record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        traceback.print_exc(file=sys.stderr)
    record["self_maxrss_mb"] = self_maxrss_mb()
    print(json.dumps(record), flush=True)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
