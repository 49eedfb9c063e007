"""Streamed training: peak memory against the file's size, throughput against training in memory.

Generates synthetic word pairs (a source of 3 to 8 of 100 made-up words, its
target the same words reversed), then runs `seq2seq train` in a fresh process per
measurement and reads the process's peak resident memory (`ru_maxrss` of the
child) and its `metrics.json` (`fit_seconds`):

- memory: one streamed epoch of a large file (default 5,000,000 pairs, about
  400 MB) against the same command on a 200,000-pair file;
- throughput: training pairs per second of `fit`, streamed (`--stream`) against
  in memory (`--no-stream --bucket`) on the 200,000-pair file, both for the
  same epochs. Streamed batches are padded to their own length but, without
  `--bucket`, not sorted: more padding than in memory, a conservative comparison.

The data files go to `--work` (default /tmp/stream_memory); they are never
committed. Both files hold out 5 % for validation and 5 % for test, which a
streamed file caps at 10,000 sources each (`HELD_OUT_LIMIT`), so both runs
validate and score the same number of examples. A tiny model (hidden 8, embeddings 8), a small word vocabulary (the
output softmax dominates a step) and batches of 1,024 keep a 5M-pair epoch to
minutes on a shared CPU machine.

    python benchmarks/stream_memory.py                     # everything, about 15 min on 2 cores
    python benchmarks/stream_memory.py --big-pairs 1000000 # a quicker check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# Made-up words: syllables joined, so the word vocabulary is large but bounded.
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "po", "qu", "di"]
NUM_WORDS = 100
CHUNK = 100_000
TRAIN_FLAGS = [
    "--level", "word", "--model", "seq2seq", "--hidden", "8", "--embedding-dim", "8",
    "--batch-size", "1024", "--validation-split", "0.05", "--test-split", "0.05",
    "--checkpoint-every", "0", "--learning-rate", "0.01",
]  # fmt: skip


def _words(rng: np.random.Generator) -> np.ndarray:
    words: set[str] = set()
    while len(words) < NUM_WORDS:
        size = rng.integers(2, 5)
        words.add("".join(rng.choice(SYLLABLES, size=size)))
    return np.array(sorted(words))


def generate(path: Path, pairs: int, seed: int = 0) -> Path:
    """Writes `pairs` lines `source<TAB>reversed source` to `path` (kept if already there)."""
    if path.exists() and path.stat().st_size > 0 and path.with_suffix(".done").exists():
        return path
    rng = np.random.default_rng(seed)
    words = _words(rng)
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, pairs, CHUNK):
            count = min(CHUNK, pairs - start)
            lengths = rng.integers(3, 9, size=count)
            picked = words[rng.integers(0, NUM_WORDS, size=int(lengths.sum()))].tolist()
            lines, at = [], 0
            for length in lengths.tolist():
                sentence = picked[at : at + length]
                at += length
                lines.append(" ".join(sentence) + "\t" + " ".join(reversed(sentence)) + "\n")
            handle.writelines(lines)
    path.with_suffix(".done").write_text("")
    return path


def train(data: Path, out: Path, mode: str, epochs: int) -> dict:
    """Runs `seq2seq train` in a child process; returns its peak RSS, times and run record."""
    flags = ["--stream"] if mode == "streamed" else ["--no-stream", "--bucket"]
    command = [sys.executable, "-m", "seq2seq", "train", str(data), *TRAIN_FLAGS, *flags,
               "--epochs", str(epochs), "--out", str(out), "--overwrite"]  # fmt: skip
    started = time.perf_counter()
    log = out.with_suffix(".log")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        # wait4 gives this child's own resource usage: its peak resident memory.
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    report = json.loads((out / "metrics.json").read_text())
    pairs = int(re.search(r"\((\d+) train,", text).group(1))
    return {
        "data": str(data),
        "data_mb": round(data.stat().st_size / 1e6, 1),
        "mode": mode,
        "epochs": epochs,
        "command": " ".join(["seq2seq", *command[3:]]),
        "train_pairs": pairs,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "wall_seconds": round(wall, 1),
        "data_seconds": report["data_seconds"],
        "fit_seconds": report["fit_seconds"],
        "pairs_per_second": round(pairs * epochs / report["fit_seconds"]),
        "history": (out / "history.csv").read_text().splitlines(),
    }


def _run(data: Path, out: Path, mode: str, epochs: int) -> dict:
    record = train(data, out, mode, epochs)
    print(json.dumps(record), flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-pairs", type=int, default=5_000_000)
    parser.add_argument("--small-pairs", type=int, default=200_000)
    parser.add_argument("--throughput-epochs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/stream_memory"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/stream_memory.json"))
    parser.add_argument("--skip", default="", help="comma list of: memory, throughput")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    started = time.perf_counter()
    small = generate(args.work / f"pairs_{args.small_pairs}.tsv", args.small_pairs)
    big = generate(args.work / f"pairs_{args.big_pairs}.tsv", args.big_pairs, seed=1)
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    runs = []
    if "throughput" not in skip:
        for mode in ("in_memory", "streamed"):
            runs.append(_run(small, args.work / f"run_small_{mode}", mode, args.throughput_epochs))
    if "memory" not in skip:
        runs.append(_run(small, args.work / "run_small_memory", "streamed", 1))
        runs.append(_run(big, args.work / "run_big_memory", "streamed", 1))
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
        "runs": runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
