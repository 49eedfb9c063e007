"""`benchmarks.run --plan`: how many jobs a selection makes and how long it should take."""

from __future__ import annotations

from benchmarks.common import train_flops

# Median wall time of one job (seconds, process start to exit) in the committed run of
# docs/benchmarks.md (2 cores, hidden 64 and 256, timed windows of about 2.5 s, generation
# best of 3 calls); the estimate of --plan. Unmeasured precisions take the float32 figure.
_TRAIN_S = {"torch": 5.5, "torch_heap": 5.5, "keras_seed": 11.5, "library_dp": 11.0}
_TRAIN_S.update({"library[jax]": 11.0, "library[tensorflow]": 13.5, "library[torch]": 13.5})
_GEN_S = {"torch": (5.5, 17.0), "torch_heap": (5.5, 15.0), "library[jax]": (9.5, 15.5)}
_GEN_S.update({"library[tensorflow]": (8.5, 14.0), "library[torch]": (12.5, 30.5)})


def estimate_seconds(job, args) -> float:
    """Expected wall time of one job (see `_TRAIN_S`)."""
    if job["section"] == "generation":
        greedy, beam = _GEN_S.get(job["label"], _GEN_S["library[jax]"])
        return greedy if job["strategy"] == "greedy" else beam
    base = _TRAIN_S.get(job["label"], _TRAIN_S.get(job["impl"], 11.0))
    # The measured window replaced by this job's warm-up and timed steps at 60 GFLOP/s.
    flops = train_flops(job["model"], job["hidden"], length_in=job["length"], cell=job["cell"])
    return base - 2.5 + max(args.target_s, (job["steps"] + args.warmup) * flops / 60e9)


def plan_lines(sections, args) -> list[str]:
    """Job counts and the estimated duration of every section."""
    lines, total = [], 0.0
    for name, jobs, repeats in sections:
        seconds = repeats * sum(estimate_seconds(job, args) for job in jobs)
        total += seconds
        kinds = {}
        for job in jobs:
            key = (job.get("cell"), job.get("precision"))
            kinds[key] = kinds.get(key, 0) + 1
        detail = ", ".join(f"{c} {p}: {n}" for (c, p), n in sorted(kinds.items()))
        lines.append(
            f"{name}: {len(jobs)} jobs x {repeats} repeat(s) ({detail}), "
            f"about {seconds / 60:.0f} min"
        )
    lines.append(
        f"total: about {total / 60:.0f} min on the 2-core machine of docs/benchmarks.md "
        "(per-job times of its float32 run; bfloat16 rows assumed as long)"
    )
    return lines
