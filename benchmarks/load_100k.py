"""Time how long `seq2seq train` takes to read and encode a 100k-pair TSV.

    python -m benchmarks.load_100k              # 100,000 date pairs, character level
    python -m benchmarks.load_100k --pairs 1000000 --level word

Writes the pairs to a temporary file, then times each step the command runs
before training: reading and splitting the file (`load_dataset`), building the
two vocabularies and encoding every split to padded id arrays. Prints one line
per step and the total, in seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from seq2seq.allocator import keep_heap
from seq2seq.commands.datasets import load_dataset
from seq2seq.data.tasks import get_task
from seq2seq.data.vocabulary import Vocabulary


def write_pairs(path: Path, count: int, level: str) -> None:
    """Writes `count` date pairs; at the word level, spaces separate the target's digits."""
    splits = get_task("dates").load(num_examples=count, seed=0)
    pairs = splits["train"] + splits["validation"] + splits["test"]
    if level == "word":
        pairs = [(source, " ".join(target)) for source, target in pairs]
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--level", choices=("char", "word"), default="char")
    args = parser.parse_args()
    keep_heap()  # as `seq2seq train` does
    # Word-level date sources hold many words seen only in the held-out splits.
    warnings.simplefilter("ignore", UserWarning)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.tsv"
        write_pairs(path, args.pairs, args.level)
        size = path.stat().st_size / 2**20
        print(f"{args.pairs:,} date pairs, {size:.1f} MiB, {args.level} level")
        times = {}
        start = time.perf_counter()
        data = load_dataset(data=path, level=args.level)
        times["read and split"] = time.perf_counter() - start

        start = time.perf_counter()
        train = data.splits["train"]
        sources = Vocabulary.build(train["sources"], level=args.level)
        targets = Vocabulary.build(train["targets"], level=args.level)
        times["build vocabularies"] = time.perf_counter() - start

        start = time.perf_counter()
        shapes = []
        for part in data.splits.values():
            x = sources.encode(part["sources"])
            y = targets.encode(part["targets"])
            shapes.append((x.shape, y.shape))
        times["encode all splits"] = time.perf_counter() - start
    for step, seconds in times.items():
        print(f"{step:<20} {seconds:6.2f} s")
    print(f"{'total':<20} {sum(times.values()):6.2f} s   (train x, y: {shapes[0]})")


if __name__ == "__main__":
    main()
