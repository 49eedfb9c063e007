"""Run the seq2seq throughput benchmarks and print Markdown tables.

    python -m benchmarks.run --quick              # hidden 64, LSTM, float32, ~4 min
    python -m benchmarks.run --plan               # the full run's jobs and estimated time
    python -m benchmarks.run                      # every model, H 64/256/512, LSTM and GRU,
                                                  # float32 and mixed_bfloat16 (hours)
    python -m benchmarks.run --cells lstm --precisions float32 --hidden 64,256
    python -m benchmarks.run --generation         # + greedy / beam-5 generation
    python -m benchmarks.run --scaling            # + lengths 20..200 x hidden 64..512

Every measurement runs in its own subprocess (``benchmarks.run_one``), so peak memory
(``ru_maxrss``) and the Keras backend are isolated.  Implementations:

* ``torch``: native PyTorch (``benchmarks/torch_reference.py``), all cores; in
  ``mixed_bfloat16`` rows forward and loss run under ``torch.autocast`` bfloat16;
* ``torch_heap``: the same with the library's glibc heap settings;
* ``keras_seed[B]``: the seed's hand-built Keras Sequential model (simple only, float32) on
  backend B;
* ``library[B]``: ``seq2seq.models`` on backend B (``benchmarks/library_impl.py``), in
  ``mixed_bfloat16`` rows built with ``dtype="mixed_bfloat16"``;
* ``library_dp[jax]``: the same on JAX under ``keras.distribution.DataParallel`` over one
  JAX CPU device per core (training only);
* ``library_xla[tensorflow]``: the same on TensorFlow compiled with
  ``jit_compile=True`` (XLA; the default there is no XLA), with
  ``TF_NUM_INTEROP_THREADS=1``;
* ``library_compiled[torch]``: the same on PyTorch compiled with ``jit_compile=True``
  (``torch.compile``; the default there is eager).

Measurements are repeated and interleaved (every configuration once per repeat, order
reshuffled each repeat); tables show medians, min-max, and the ratio of medians to
PyTorch in the same precision from the same run, and for mixed_bfloat16 the ratio to the
same implementation in float32.  MFU is measured against the matmul peak of the row's
precision taken in the same run (see ``benchmarks/common.py`` for the FLOP formula).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import (
    BACKENDS,
    BEAM_WIDTH,
    CELLS,
    GEN_SEQUENCES,
    LENGTH,
    MODELS,
    PRECISIONS,
    REPO_ROOT,
    cpu_busy_fraction,
    default_steps,
    interleaved,
    load_average,
    run_subprocess,
    wait_until_idle,
)
from benchmarks.machine import cpu_report, describe_cpu, library_module, matmul_peaks
from benchmarks.plan import plan_lines
from benchmarks.report import finish, merge, parse_label

FULL_IMPLS = ["torch", "torch_heap", "keras_seed", "library", "library_dp"]
QUICK_IMPLS = ["torch", "keras_seed", "library"]
ALL_IMPLS = [*FULL_IMPLS, "library_xla", "library_compiled"]
# The implementations measured on one backend only.
ONE_BACKEND = {"library_dp": "jax", "library_xla": "tensorflow", "library_compiled": "torch"}


def _csv(kind):
    def parse(text: str):
        return [kind(v) for v in text.split(",") if v.strip()]

    return parse


def _check(p, name, values, allowed):
    for v in values:
        if v not in allowed:
            p.error(f"unknown {name} {v!r}; choose from {','.join(allowed)}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="hidden 64, LSTM, float32, implementations torch,keras_seed,library, one repeat, "
        "shorter timed windows",
    )
    p.add_argument("--plan", action="store_true", help="print the jobs and an estimate, run none")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        metavar="RESULT_JSON",
        help="make one report from the --out files of runs made in parts, run nothing",
    )
    p.add_argument("--models", type=_csv(str), default=list(MODELS))
    p.add_argument("--hidden", type=_csv(int), default=None, help="default 64,256,512 (quick: 64)")
    p.add_argument(
        "--cells",
        "--cell",
        dest="cells",
        type=_csv(str),
        default=None,
        help="lstm, gru or both: lstm,gru (default both; quick: lstm)",
    )
    p.add_argument(
        "--precisions",
        "--precision",
        dest="precisions",
        type=_csv(str),
        default=None,
        help="float32, mixed_bfloat16 or both (default both; quick: float32); mixed_bfloat16 "
        "rows compare the library's Keras dtype policy with PyTorch under torch.autocast "
        "bfloat16",
    )
    p.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    p.add_argument(
        "--impls",
        type=_csv(str),
        default=None,
        help="torch, torch_heap (native PyTorch with the library's glibc heap settings), "
        "keras_seed (float32 only), library, library_dp (JAX only: "
        "keras.distribution.DataParallel over one CPU device per core), library_xla "
        "(TensorFlow only: compile(jit_compile=True)), library_compiled (PyTorch only: "
        "the same, torch.compile); default all but library_xla and library_compiled "
        "(quick: torch,keras_seed,library)",
    )
    p.add_argument("--backends", type=_csv(str), default=list(BACKENDS))
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="native PyTorch threads (default: all cores)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each measurement wait up to this many seconds for other processes "
        "to use < 20%% of the CPU (default 0: do not wait, only record it)",
    )
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps (default: ~--target-s seconds at 60 GFLOP/s, 5..--max-steps)",
    )
    p.add_argument("--target-s", type=float, default=None, help="default 2.5 (quick: 1.0)")
    p.add_argument("--max-steps", type=int, default=None, help="default 400 (quick: 30)")
    p.add_argument("--timeout", type=float, default=300.0, help="per subprocess, seconds")
    p.add_argument("--no-train", action="store_true", help="skip the training table")
    p.add_argument(
        "--generation",
        action="store_true",
        help="greedy and beam-5 generation of 1,024 sequences (attention model)",
    )
    p.add_argument("--gen-hidden", type=int, default=None, help="default 256 (quick: 64)")
    p.add_argument("--gen-repeats", type=int, default=None, help="default 3 (quick: 1)")
    p.add_argument("--gen-cells", type=_csv(str), default=["lstm"], help="default lstm")
    p.add_argument("--gen-precisions", type=_csv(str), default=None, help="default: --precisions")
    p.add_argument(
        "--scaling",
        action="store_true",
        help="throughput over sequence lengths and hidden sizes (LSTM, float32)",
    )
    p.add_argument("--scaling-models", type=_csv(str), default=["simple"])
    p.add_argument(
        "--scaling-lengths",
        type=_csv(int),
        default=None,
        help="default 20,50,100,200 (quick: 20,100)",
    )
    p.add_argument(
        "--scaling-hidden", type=_csv(int), default=None, help="default 64,256,512 (quick: 64,256)"
    )
    p.add_argument(
        "--scaling-impls", type=_csv(str), default=["torch", "keras_seed[jax]", "library[jax]"]
    )
    p.add_argument("--scaling-repeats", type=int, default=1)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "latest.json")
    args = p.parse_args(argv)
    q = args.quick
    args.hidden = args.hidden or ([64] if q else [64, 256, 512])
    args.cells = args.cells or (["lstm"] if q else list(CELLS))
    args.precisions = args.precisions or (["float32"] if q else list(PRECISIONS))
    args.impls = args.impls or (QUICK_IMPLS if q else FULL_IMPLS)
    args.gen_precisions = args.gen_precisions or args.precisions
    args.repeats = args.repeats or (1 if q else 3)
    args.target_s = args.target_s or (1.0 if q else 2.5)
    args.max_steps = args.max_steps or (30 if q else 400)
    args.gen_hidden = args.gen_hidden or (64 if q else 256)
    args.gen_repeats = args.gen_repeats or (1 if q else 3)
    args.scaling_lengths = args.scaling_lengths or ([20, 100] if q else [20, 50, 100, 200])
    args.scaling_hidden = args.scaling_hidden or ([64, 256] if q else [64, 256, 512])
    _check(p, "model", args.models + args.scaling_models, MODELS)
    _check(p, "cell", args.cells + args.gen_cells, CELLS)
    _check(p, "precision", args.precisions + args.gen_precisions, PRECISIONS)
    _check(p, "backend", args.backends, BACKENDS)
    _check(p, "implementation", args.impls, ALL_IMPLS)
    return args


# --------------------------------------------------------------------------- jobs


def heap_env() -> dict:
    """glibc settings equal to the library's own (`seq2seq.allocator`), for native PyTorch."""
    return library_module("allocator").glibc_environment()


def data_parallel_env() -> dict:
    """One JAX CPU device per core, for `keras.distribution.DataParallel`.

    JAX fixes its CPU device count when it starts, hence an environment for the
    subprocess. `PJRT_NPROC` gives XLA's CPU client two threads per device: with only
    one per core, a device's program can wait in the gradients' all-reduce for another
    device whose program has no thread to run on (docs/distribution.md).
    """
    devices = os.cpu_count() or 1
    flags = os.environ.get("XLA_FLAGS", "")
    return {
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={devices}".strip(),
        "PJRT_NPROC": str(2 * devices),
        "BENCH_DATA_PARALLEL": "1",
    }


def _launch(impl: str) -> tuple[str, dict]:
    """`run_one --impl` value and extra environment of an implementation name."""
    if impl == "torch_heap":
        return "torch", heap_env()
    if impl == "library_dp":
        return "library", data_parallel_env()
    if impl == "library_xla":
        # One inter-op thread: with TensorFlow's default pool beside XLA's on two cores
        # the compiled step ran at either of two speeds, 1.4x apart; one thread made it
        # steadier in single runs, not in every run (docs/benchmarks.md).
        return "library", {"BENCH_JIT_COMPILE": "1", "TF_NUM_INTEROP_THREADS": "1"}
    if impl == "library_compiled":
        return "library", {"BENCH_JIT_COMPILE": "1"}
    return impl, {}


def _label(impl: str, backend: str | None) -> str:
    return impl if backend is None else f"{impl}[{backend}]"


def _impl_variants(impls, backends, model, precision="float32"):
    for impl in impls:
        if impl in ("torch", "torch_heap"):
            yield impl, None
        elif impl == "keras_seed":
            if model == "simple" and precision == "float32":
                for b in backends:
                    yield impl, b
        elif impl == "library":
            for b in backends:
                yield impl, b
        elif impl in ONE_BACKEND:
            if ONE_BACKEND[impl] in backends:
                yield impl, ONE_BACKEND[impl]
        else:
            raise SystemExit(f"unknown impl {impl!r}")


def _job(section, group, impl, backend, argv, **fields):
    run_impl, env = _launch(impl)
    return {
        "section": section,
        "group": group,
        "label": _label(impl, backend),
        "impl": impl,
        "backend": backend,
        "argv": ["--impl", run_impl, *argv],
        "env": env,
        **fields,
    }


def train_jobs(args, models, hiddens, lengths, cells, precisions, variants=None, section="train"):
    """One job per model, length, hidden size, cell, precision and implementation.

    A group (the jobs run close together in time) holds one model, size and cell in both
    precisions, so that a bfloat16 row and its float32 row are measured side by side.
    """
    jobs = []
    for model in models:
        for length in lengths:
            for hidden in hiddens:
                steps = args.steps or default_steps(
                    model, hidden, length, args.target_s, hi=args.max_steps
                )
                for cell in cells:
                    for precision in precisions:
                        vs = (
                            variants
                            if variants is not None
                            else list(_impl_variants(args.impls, args.backends, model, precision))
                        )
                        for impl, backend in vs:
                            if impl == "keras_seed" and model != "simple":
                                continue
                            argv = ["--model", model, "--hidden", str(hidden)]
                            argv += ["--length", str(length), "--steps", str(steps)]
                            argv += ["--warmup", str(args.warmup), "--cell", cell]
                            argv += ["--precision", precision]
                            jobs.append(
                                _job(
                                    section,
                                    (model, hidden, length, cell),
                                    impl,
                                    backend,
                                    argv,
                                    model=model,
                                    hidden=hidden,
                                    length=length,
                                    cell=cell,
                                    precision=precision,
                                    steps=steps,
                                )
                            )
    return jobs


def generation_jobs(args):
    jobs = []
    variants = [("torch", None)]
    variants += [("torch_heap", None)] if "torch_heap" in args.impls else []
    variants += [("library", b) for b in args.backends if "library" in args.impls]
    for cell in args.gen_cells:
        for precision in args.gen_precisions:
            for strategy in ("greedy", "beam"):
                for impl, backend in variants:
                    argv = ["--task", "generate", "--strategy", strategy]
                    argv += ["--hidden", str(args.gen_hidden), "--length", str(LENGTH)]
                    argv += ["--sequences", str(GEN_SEQUENCES), "--beam-width", str(BEAM_WIDTH)]
                    argv += ["--gen-repeats", str(args.gen_repeats), "--cell", cell]
                    argv += ["--precision", precision]
                    jobs.append(
                        _job(
                            "generation",
                            (strategy, cell),
                            impl,
                            backend,
                            argv,
                            model="attention",
                            hidden=args.gen_hidden,
                            strategy=strategy,
                            cell=cell,
                            precision=precision,
                        )
                    )
    return jobs


def run_jobs(jobs, repeats, timeout, log, seed=0, torch_threads=None, wait_idle=0.0):
    """Run jobs interleaved over repeats; returns the list of raw records."""
    records = []
    total = len(jobs) * repeats
    t_start = time.perf_counter()
    for i, (r, job) in enumerate(interleaved(jobs, repeats, seed), 1):
        env = {"KERAS_BACKEND": job["backend"]} if job["backend"] else {}
        env.update(job.get("env", {}))
        if torch_threads:
            env["BENCH_TORCH_THREADS"] = str(torch_threads)
        if wait_idle > 0:
            busy = wait_until_idle(wait_idle, log=log)
        else:
            busy = cpu_busy_fraction(0.25)
        load = load_average()
        rec = run_subprocess(job["argv"], env=env, timeout=timeout)
        rec["busy_before"] = busy
        rec["load_before"] = load
        rec["load_after"] = load_average()
        keys = ("section", "label", "impl", "model", "hidden", "cell", "precision")
        rec.update({k: job[k] for k in keys})
        rec["backend"] = job["backend"] or "native"
        for key in ("length", "strategy"):
            if key in job:
                rec[key] = job[key]
        rec["repeat"] = r
        records.append(rec)
        elapsed = time.perf_counter() - t_start
        eta = elapsed / i * (total - i)
        if rec.get("ok"):
            rate = rec.get("samples_per_s") or rec.get("sequences_per_s")
            what = f"{rate:,.0f}/s"
        else:
            what = f"n/a ({rec.get('error')})"
        extra = f" L={job['length']}" if "length" in job else ""
        extra += f" {job['strategy']}" if "strategy" in job else ""
        log(
            f"[{job['section']} {i}/{total} rep {r + 1}] {job['label']} {job['model']} "
            f"H={job['hidden']}{extra} {job['cell']} {job['precision']}: {what}  "
            f"({rec['wall_s']:.1f}s, eta {eta / 60:.1f} min)"
        )
    return records


# --------------------------------------------------------------------------- main


def _git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _sections(args):
    """(name, jobs, repeats, seed) of every section the arguments ask for."""
    sections = []
    if not args.no_train:
        jobs = train_jobs(args, args.models, args.hidden, [LENGTH], args.cells, args.precisions)
        sections.append(("train", jobs, args.repeats, 0))
    if args.generation:
        sections.append(("generation", generation_jobs(args), args.repeats, 1))
    if args.scaling:
        variants = [parse_label(lab) for lab in args.scaling_impls]
        jobs = train_jobs(
            args,
            args.scaling_models,
            args.scaling_hidden,
            args.scaling_lengths,
            ["lstm"],
            ["float32"],
            variants=variants,
            section="scaling",
        )
        sections.append(("scaling", jobs, args.scaling_repeats, 2))
    return sections


def _log_peaks(log, peaks):
    f32, bf16 = peaks["float32"], peaks["bfloat16"]
    log(
        f"  float32 {f32['peak']:.1f} GFLOP/s (numpy {f32['numpy']:.1f}, torch "
        f"{f32.get('torch', 0):.1f}); bfloat16 {bf16.get('peak') or 0:.1f} GFLOP/s "
        + ("(the float32 peak: no bfloat16 instructions)" if bf16.get("as_float32") else "(torch)")
    )


def _best_peaks(start, end):
    out = {}
    for precision in ("float32", "bfloat16"):
        values = [p[precision]["peak"] for p in (start, end) if p[precision].get("peak")]
        out[precision] = {"peak": max(values) if values else None}
        if start[precision].get("as_float32"):
            out[precision]["as_float32"] = True
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if args.merge:
        return merge(args.merge, args.out, log)
    planned = _sections(args)
    if args.plan:
        print("\n".join(plan_lines([(n, jobs, rep) for n, jobs, rep, _ in planned], args)))
        return 0
    cpu = cpu_report()
    log(f"machine: {describe_cpu(cpu)}")
    log("measuring matmul peaks (2048x2048: float32 numpy and torch, bfloat16 torch)...")
    peak_start = matmul_peaks()
    _log_peaks(log, peak_start)

    result = {
        "meta": {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "cpu": cpu,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "settings": {
                "batch": 64,
                "length": LENGTH,
                "features": 32,
                "vocab": 40,
                "embedding": 64,
                "optimizer": "Adam(1e-3)",
                "cells": args.cells,
                "precisions": args.precisions,
                "warmup": args.warmup,
                "repeats": args.repeats,
                "gen_hidden": args.gen_hidden,
                "scaling_repeats": args.scaling_repeats,
            },
            "matmul_peaks_start": peak_start,
        },
    }
    out_path = args.out
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(out_path.name + ".tmp")

    def save():
        tmp_path.write_text(json.dumps(result, indent=1, default=str))

    run_kw = {"torch_threads": args.torch_threads, "wait_idle": args.wait_idle}
    sections = []
    for name, jobs, repeats, seed in planned:
        recs = run_jobs(jobs, repeats, args.timeout, log, seed=seed, **run_kw)
        result[name] = {"runs": recs}
        save()
        sections.append((name, recs))

    log("measuring matmul peaks again...")
    peak_end = matmul_peaks()
    _log_peaks(log, peak_end)
    result["meta"]["matmul_peaks_end"] = peak_end
    result["meta"]["matmul_peaks"] = _best_peaks(peak_start, peak_end)

    result["meta"]["total_s"] = time.perf_counter() - t0
    finish(result, sections, out_path, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
