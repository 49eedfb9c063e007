"""Run the seq2seq throughput benchmarks and print Markdown tables.

    python -m benchmarks.run                      # training table, ~15 min
    python -m benchmarks.run --quick              # hidden 64, one repeat, ~3 min
    python -m benchmarks.run --generation         # + greedy / beam-5 generation
    python -m benchmarks.run --scaling            # + lengths 20..200 x hidden 64..512
    python -m benchmarks.run --models simple --hidden 256 --repeats 5

Every measurement runs in its own subprocess (``benchmarks.run_one``), so peak memory
(``ru_maxrss``) and the Keras backend are isolated.  Implementations:

* ``torch``: native PyTorch (``benchmarks/torch_reference.py``), all cores;
* ``keras_seed[B]``: the seed's hand-built Keras Sequential model (simple only) on backend B;
* ``library[B]``: ``seq2seq.models`` on backend B (``benchmarks/library_impl.py``);
* ``library_dp[jax]``: the same on JAX under ``keras.distribution.DataParallel`` over one
  JAX CPU device per core (training only).

Measurements are repeated and interleaved (every configuration once per repeat, order
reshuffled each repeat); tables show medians, min-max, and the ratio of medians to
PyTorch from the same run.  MFU is measured against a float32 matmul peak taken in the
same run (see ``benchmarks/common.py`` for the FLOP formula).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import (
    BACKENDS,
    BEAM_WIDTH,
    GEN_SEQUENCES,
    LENGTH,
    MODELS,
    REPO_ROOT,
    cpu_busy_fraction,
    default_steps,
    interleaved,
    load_average,
    matmul_peak_gflops,
    run_subprocess,
    summarize,
    wait_until_idle,
)


def _csv(kind):
    def parse(text: str):
        return [kind(v) for v in text.split(",") if v.strip()]

    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick", action="store_true", help="hidden 64 only, one repeat, shorter timed windows"
    )
    p.add_argument("--models", type=_csv(str), default=list(MODELS))
    p.add_argument("--hidden", type=_csv(int), default=None, help="default 64,256 (quick: 64)")
    p.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    p.add_argument(
        "--impls",
        type=_csv(str),
        default=["torch", "torch_heap", "keras_seed", "library", "library_dp"],
        help="torch, torch_heap (native PyTorch with the library's glibc heap settings), "
        "keras_seed, library, library_dp (JAX only: keras.distribution.DataParallel over one "
        "CPU device per core)",
    )
    p.add_argument("--backends", type=_csv(str), default=list(BACKENDS))
    p.add_argument(
        "--cell",
        choices=("lstm", "gru"),
        default="lstm",
        help="encoder/decoder cell (gru: torch and keras_seed only)",
    )
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
        help="timed steps (default: ~--target-s seconds at 60 GFLOP/s, 5..60)",
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
    p.add_argument(
        "--scaling", action="store_true", help="throughput over sequence lengths and hidden sizes"
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
    args.hidden = args.hidden or ([64] if q else [64, 256])
    args.repeats = args.repeats or (1 if q else 3)
    args.target_s = args.target_s or (1.0 if q else 2.5)
    args.max_steps = args.max_steps or (30 if q else 400)
    args.gen_hidden = args.gen_hidden or (64 if q else 256)
    args.gen_repeats = args.gen_repeats or (1 if q else 3)
    args.scaling_lengths = args.scaling_lengths or ([20, 100] if q else [20, 50, 100, 200])
    args.scaling_hidden = args.scaling_hidden or ([64, 256] if q else [64, 256, 512])
    for m in args.models + args.scaling_models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; choose from {','.join(MODELS)}")
    return args


# --------------------------------------------------------------------------- jobs


def heap_env() -> dict:
    """glibc settings equal to the library's own (`seq2seq.allocator`), for native PyTorch.

    The module is loaded on its own: importing the package would pick a Keras backend
    and tune this process's heap.
    """
    import importlib.util

    path = REPO_ROOT / "src" / "seq2seq" / "allocator.py"
    spec = importlib.util.spec_from_file_location("seq2seq_allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.glibc_environment()


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
    return impl, {}


def _label(impl: str, backend: str | None) -> str:
    return impl if backend is None else f"{impl}[{backend}]"


def _impl_variants(impls, backends, model):
    for impl in impls:
        if impl in ("torch", "torch_heap"):
            yield impl, None
        elif impl == "keras_seed":
            if model == "simple":
                for b in backends:
                    yield impl, b
        elif impl == "library":
            for b in backends:
                yield impl, b
        elif impl == "library_dp":
            yield impl, "jax"
        else:
            raise SystemExit(f"unknown impl {impl!r}")


def _parse_label(label: str):
    if "[" in label:
        impl, backend = label[:-1].split("[")
        return impl, backend
    return label, None


def train_jobs(args, models, hiddens, lengths, variants=None, section="train"):
    jobs = []
    for model in models:
        for length in lengths:
            for hidden in hiddens:
                steps = args.steps or default_steps(
                    model, hidden, length, args.target_s, hi=args.max_steps
                )
                vs = (
                    variants
                    if variants is not None
                    else list(_impl_variants(args.impls, args.backends, model))
                )
                for impl, backend in vs:
                    if impl == "keras_seed" and model != "simple":
                        continue
                    run_impl, env = _launch(impl)
                    argv = [
                        "--impl",
                        run_impl,
                        "--model",
                        model,
                        "--hidden",
                        str(hidden),
                        "--length",
                        str(length),
                        "--steps",
                        str(steps),
                        "--warmup",
                        str(args.warmup),
                        "--cell",
                        args.cell,
                    ]
                    jobs.append(
                        {
                            "section": section,
                            "group": (model, hidden, length),
                            "label": _label(impl, backend),
                            "impl": impl,
                            "backend": backend,
                            "model": model,
                            "hidden": hidden,
                            "length": length,
                            "argv": argv,
                            "env": env,
                        }
                    )
    return jobs


def generation_jobs(args):
    jobs = []
    variants = [("torch", None)]
    variants += [("torch_heap", None)] if "torch_heap" in args.impls else []
    variants += [("library", b) for b in args.backends if "library" in args.impls]
    for strategy in ("greedy", "beam"):
        for impl, backend in variants:
            run_impl, env = _launch(impl)
            argv = [
                "--impl",
                run_impl,
                "--task",
                "generate",
                "--strategy",
                strategy,
                "--hidden",
                str(args.gen_hidden),
                "--length",
                str(LENGTH),
                "--sequences",
                str(GEN_SEQUENCES),
                "--beam-width",
                str(BEAM_WIDTH),
                "--gen-repeats",
                str(args.gen_repeats),
                "--cell",
                args.cell,
            ]
            jobs.append(
                {
                    "section": "generation",
                    "group": (strategy,),
                    "label": _label(impl, backend),
                    "impl": impl,
                    "backend": backend,
                    "model": "attention",
                    "hidden": args.gen_hidden,
                    "strategy": strategy,
                    "argv": argv,
                    "env": env,
                }
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
        rec.update({k: job[k] for k in ("section", "label", "impl", "model", "hidden")})
        rec["backend"] = job["backend"] or "native"
        if "length" in job:
            rec["length"] = job["length"]
        if "strategy" in job:
            rec["strategy"] = job["strategy"]
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
            f"H={job['hidden']}{extra}: {what}  ({rec['wall_s']:.1f}s, eta {eta / 60:.1f} min)"
        )
    return records


# --------------------------------------------------------------------------- summaries


def summarize_rows(records, keys, rate_key, peak_gflops):
    rows = {}
    for rec in records:
        key = tuple(rec.get(k) for k in keys)
        rows.setdefault(key, []).append(rec)
    out = []
    for key, recs in rows.items():
        ok = [r for r in recs if r.get("ok")]
        row = dict(zip(keys, key, strict=True))
        row["rate"] = summarize([r[rate_key] for r in ok])
        row["peak_rss_mb"] = summarize([r["peak_rss_mb"] for r in ok])
        row["params"] = ok[0].get("params") if ok else None
        row["errors"] = sorted({r.get("error", "") for r in recs if not r.get("ok")})
        if ok and "achieved_gflops" in ok[0]:
            g = summarize([r["achieved_gflops"] for r in ok])["median"]
            row["achieved_gflops"] = g
            row["mfu"] = g / peak_gflops if peak_gflops else None
        if ok and "elapsed_s" in ok[0] and rate_key == "sequences_per_s":
            row["seconds"] = summarize([r["elapsed_s"] for r in ok])
        out.append(row)
    # ratio of medians to native PyTorch in the same configuration
    group_keys = [k for k in keys if k != "label"]
    ref = {
        tuple(r[k] for k in group_keys): r["rate"]["median"] for r in out if r["label"] == "torch"
    }
    # paired: median over repeats of (impl / torch) within the same repeat
    torch_by_rep = {
        (tuple(rec.get(k) for k in group_keys), rec["repeat"]): rec[rate_key]
        for rec in records
        if rec.get("label") == "torch" and rec.get("ok")
    }
    ref_heap = {
        tuple(r[k] for k in group_keys): r["rate"]["median"]
        for r in out
        if r["label"] == "torch_heap"
    }
    for r in out:
        gk = tuple(r[k] for k in group_keys)
        base = ref.get(gk)
        med = r["rate"]["median"]
        r["ratio_to_torch"] = med / base if (base and med) else None
        heap_base = ref_heap.get(gk)
        r["ratio_to_torch_heap"] = med / heap_base if (heap_base and med) else None
        pairs = [
            rec[rate_key] / torch_by_rep[(gk, rec["repeat"])]
            for rec in records
            if rec.get("ok")
            and rec.get("label") == r["label"]
            and tuple(rec.get(k) for k in group_keys) == gk
            and (gk, rec["repeat"]) in torch_by_rep
        ]
        r["paired_ratio_to_torch"] = summarize(pairs)
    return out


def _fmt_rate(x):
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _rate_cells(row):
    s = row["rate"]
    if not s["n"]:
        err = row["errors"][0] if row["errors"] else "no result"
        return ["n/a", f"n/a ({_short(err)})"]
    spread = "–" if s["n"] == 1 else f"{_fmt_rate(s['min'])}–{_fmt_rate(s['max'])}"
    return [_fmt_rate(s["median"]), spread]


def _short(err: str, n: int = 70) -> str:
    err = err.replace("|", "/").replace("\n", " ")
    return err if len(err) <= n else err[: n - 1] + "…"


def _ratio(r, key="ratio_to_torch"):
    return "n/a" if r.get(key) is None else f"{r[key]:.2f}×"


def _mb(r):
    m = r["peak_rss_mb"]["median"]
    return "n/a" if m is None else f"{m:,.0f}"


def _mfu(r):
    m = r.get("mfu")
    return "n/a" if m is None else f"{100 * m:.1f}"


def _label_order(label):
    impl, backend = _parse_label(label)
    order = {"torch": 0, "torch_heap": 1, "keras_seed": 2, "library": 3, "library_dp": 4}
    return order.get(impl, 9), BACKENDS.index(backend) if backend in BACKENDS else -1


def train_table(rows, with_length=False):
    head = (
        ["model", "H"]
        + (["L"] if with_length else [])
        + [
            "implementation",
            "params",
            "samples/s (median)",
            "min–max",
            "peak MB",
            "MFU %",
            "vs PyTorch",
            "vs PyTorch+heap",
        ]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = sorted(
        rows,
        key=lambda r: (
            MODELS.index(r["model"]),
            r.get("length", 0),
            r["hidden"],
            _label_order(r["label"]),
        ),
    )
    for r in rows:
        cells = [r["model"], str(r["hidden"])] + ([str(r["length"])] if with_length else [])
        params = "n/a" if r["params"] is None else f"{r['params']:,}"
        cells += [r["label"], params, *_rate_cells(r), _mb(r), _mfu(r), _ratio(r)]
        cells += [_ratio(r, "ratio_to_torch_heap")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def generation_table(rows):
    head = [
        "strategy",
        "implementation",
        "params",
        "sequences/s (median)",
        "min–max",
        f"seconds / {GEN_SEQUENCES:,}",
        "peak MB",
        "vs PyTorch",
        "vs PyTorch+heap",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = sorted(rows, key=lambda r: (r["strategy"] != "greedy", _label_order(r["label"])))
    for r in rows:
        secs = r.get("seconds", {}).get("median")
        params = "n/a" if r["params"] is None else f"{r['params']:,}"
        strategy = r["strategy"] if r["strategy"] == "greedy" else f"beam-{BEAM_WIDTH}"
        cells = [
            strategy,
            r["label"],
            params,
            *_rate_cells(r),
            "n/a" if secs is None else f"{secs:.2f}",
            _mb(r),
            _ratio(r),
            _ratio(r, "ratio_to_torch_heap"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scaling_lines(rows):
    """Time per sample at each length against the shortest, next to the linear ratio."""
    groups = {}
    for r in rows:
        if r["rate"]["median"]:
            groups.setdefault((r["label"], r["model"], r["hidden"]), {})[r["length"]] = r
    lines = [
        "Time per training sample relative to the shortest length (linear cost: the ratio "
        "of the lengths):"
    ]
    for (label, model, hidden), by_length in sorted(groups.items()):
        lengths = sorted(by_length)
        base = lengths[0]
        base_time = 1.0 / by_length[base]["rate"]["median"]
        parts = [
            f"L={n}: {1.0 / by_length[n]['rate']['median'] / base_time:.1f}x "
            f"(linear {n / base:.1f}x)"
            for n in lengths[1:]
        ]
        lines.append(f"- {label} {model} H={hidden}: " + "; ".join(parts))
    return lines


def param_lines(rows):
    """One line per (model, H): PyTorch count vs every other implementation's count."""
    by = {}
    for r in rows:
        by.setdefault((r["model"], r["hidden"]), {})[r["label"]] = r["params"]
    out = []
    for (model, hidden), counts in sorted(
        by.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1])
    ):
        torch_n = counts.get("torch")
        others = sorted(
            {(lab, n) for lab, n in counts.items() if lab != "torch"},
            key=lambda kv: _label_order(kv[0]),
        )
        parts = []
        for lab, n in others:
            if n is None:
                parts.append(f"{lab} n/a")
            else:
                tag = "same" if n == torch_n else f"DIFFERS by {n - (torch_n or 0):+,}"
                parts.append(f"{lab} {n:,} ({tag})")
        tn = "n/a" if torch_n is None else f"{torch_n:,}"
        out.append(f"- {model} H={hidden}: PyTorch {tn}" + "".join(f"; {p}" for p in parts))
    return "\n".join(out)


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


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log("measuring float32 matmul peak (2048x2048, numpy and torch)...")
    peak_start = matmul_peak_gflops()
    log(
        f"  peak {peak_start['peak']:.1f} GFLOP/s "
        f"(numpy {peak_start['numpy']:.1f}, torch {peak_start.get('torch', 0):.1f})"
    )

    result = {
        "meta": {
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "cpu": _cpu_name(),
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
                "dtype": "float32",
                "warmup": args.warmup,
                "repeats": args.repeats,
                "cell": args.cell,
            },
            "matmul_peak_start": peak_start,
        },
    }
    out_path = args.out
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(out_path.name + ".tmp")

    def save():
        tmp_path.write_text(json.dumps(result, indent=1, default=str))

    run_kw = {"torch_threads": args.torch_threads, "wait_idle": args.wait_idle}
    sections = []
    if not args.no_train:
        jobs = train_jobs(args, args.models, args.hidden, [LENGTH])
        recs = run_jobs(jobs, args.repeats, args.timeout, log, **run_kw)
        result["train"] = {"runs": recs}
        save()
        sections.append(("train", recs))
    if args.generation:
        jobs = generation_jobs(args)
        recs = run_jobs(jobs, args.repeats, args.timeout, log, seed=1, **run_kw)
        result["generation"] = {"runs": recs}
        save()
        sections.append(("generation", recs))
    if args.scaling:
        variants = [_parse_label(lab) for lab in args.scaling_impls]
        jobs = train_jobs(
            args,
            args.scaling_models,
            args.scaling_hidden,
            args.scaling_lengths,
            variants=variants,
            section="scaling",
        )
        recs = run_jobs(
            jobs,
            args.scaling_repeats,
            args.timeout,
            log,
            seed=2,
            **run_kw,
        )
        result["scaling"] = {"runs": recs}
        save()
        sections.append(("scaling", recs))

    log("measuring float32 matmul peak again...")
    peak_end = matmul_peak_gflops()
    peak = max(peak_start["peak"], peak_end["peak"])
    result["meta"]["matmul_peak_end"] = peak_end
    result["meta"]["matmul_peak_gflops"] = peak

    md = [
        f"# seq2seq benchmarks ({result['meta']['date']}, commit "
        f"{result['meta']['git_commit']}, {result['meta']['cpu']} x{os.cpu_count()})",
        "",
        f"float32 matmul peak {peak:.1f} GFLOP/s (start {peak_start['peak']:.1f}, "
        f"end {peak_end['peak']:.1f}); batch 64, length {LENGTH}, Adam 1e-3, float32, "
        f"{args.repeats} interleaved repeat(s), medians; peak MB = whole-process max RSS "
        "(includes the framework's own import footprint).",
        "",
    ]
    for name, recs in sections:
        if name == "train":
            rows = summarize_rows(recs, ["label", "model", "hidden"], "samples_per_s", peak)
            result["train"]["summary"] = rows
            md += [
                "## Training throughput",
                "",
                train_table(rows),
                "",
                "Parameter counts:",
                param_lines(rows),
                "",
            ]
        elif name == "generation":
            rows = summarize_rows(recs, ["label", "strategy", "hidden"], "sequences_per_s", peak)
            result["generation"]["summary"] = rows
            md += [
                f"## Generation ({GEN_SEQUENCES:,} sequences of length {LENGTH}, token "
                f"attention model, H={args.gen_hidden}, untrained weights)",
                "",
                generation_table(rows),
                "",
            ]
        elif name == "scaling":
            rows = summarize_rows(
                recs, ["label", "model", "hidden", "length"], "samples_per_s", peak
            )
            result["scaling"]["summary"] = rows
            md += [
                f"## Scaling ({args.scaling_repeats} repeat(s); input and output length L)",
                "",
                train_table(rows, with_length=True),
                "",
                *scaling_lines(rows),
                "",
            ]
    all_recs = [r for _, recs in sections for r in recs]
    loads = [r[k] for r in all_recs for k in ("load_before", "load_after") if r.get(k) is not None]
    busy = [r["busy_before"] for r in all_recs if r.get("busy_before") is not None]
    ncpu = os.cpu_count() or 1
    if busy:
        md.append(
            f"CPU used by other processes just before each measurement: median "
            f"{100 * statistics.median(busy):.0f}%, max {100 * max(busy):.0f}%; 1-minute load "
            f"average {min(loads):.1f}–{max(loads):.1f} on {ncpu} cores (own measurement "
            "included)."
        )
        if statistics.median(busy) > 0.2 or max(loads) > 1.5 * ncpu:
            md.append(
                "**Warning: other processes competed for the CPU during this run. Absolute "
                "figures are depressed, and native PyTorch (and Keras' torch backend) "
                "suffers far more than XLA from a busy machine (its threads wait at "
                "barriers for a descheduled peer), so ratios to PyTorch are not reliable. "
                "Rerun on an idle machine (`--wait-idle 120` helps).**"
            )
        md.append("")
    total = time.perf_counter() - t0
    md.append(f"_total wall time {total / 60:.1f} min_")
    text = "\n".join(md)
    result["meta"]["total_s"] = total
    result["markdown"] = text
    save()
    os.replace(tmp_path, out_path)
    print(text)
    log(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
