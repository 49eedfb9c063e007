"""A text data file too large for memory: one pass to split and count, then streamed pairs."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from seq2seq.data.errors import DataFileError
from seq2seq.data.readers import iter_pairs
from seq2seq.data.tasks.splits import HASH_BUCKETS, first_train_bucket, hash_bucket, hash_split

# Held-out examples kept in memory per split (distinct sources): more would grow with the file.
HELD_OUT_LIMIT = 10_000
# Texts counted together (one `Counter.update` call per side).
COUNT_CHUNK = 8192
HELD_OUT = ("validation", "test")


def _count(counts: collections.Counter, texts: list[str], level: str) -> None:
    if level == "char":
        counts.update("".join(texts))
    elif level == "word":
        counts.update(" ".join(texts).split())


def _longest(texts: list[str], level: str) -> int:
    if level == "char":
        return max(map(len, texts), default=0)
    return max((len(text.split()) for text in texts), default=0)


@dataclasses.dataclass
class StreamedPairs:
    """The pairs of a delimited text file, split by a hash of the source and read from disk.

    `scan` reads the file once: it checks every line (as `read_pairs` does),
    puts each source in a split by `hash_split` (so no source crosses splits
    and the split needs no shuffle), counts the training pairs and the symbols
    of character and word levels, and keeps at most `HELD_OUT_LIMIT` distinct
    sources of each held-out split in memory, with every target the file
    lists for them (their `references`). The rest of a held-out split is used
    neither for training nor for scores. Memory stays flat however large the
    file: `train_pairs()` streams the training pairs again for each epoch.

    Args:
        path: The data file.
        skip_header: Skip the file's first non-blank line.
        validation_split: The fraction of sources held out for validation.
        test_split: The fraction of sources held out for the test scores.
        max_examples: Read at most this many pairs (the first ones), or all.
        train_size: The number of training pairs.
        held_out: `"validation"` and `"test"` splits, as `load_dataset` makes them.
        counts: `"source"` and `"target"` symbol counts of the training pairs
            (empty for the subword level, whose model trains on the texts).
        longest_target: The most symbols of a training target (0 for subwords).

    Example:

    >>> from seq2seq.data.streamed_pairs import StreamedPairs
    >>> pairs = StreamedPairs.scan("big.tsv", levels=("char", "char"))  # doctest: +SKIP
    >>> pairs.train_size, next(pairs.train_pairs())  # doctest: +SKIP
    (4000321, ('source text', 'target text'))
    """

    path: Path
    skip_header: bool
    validation_split: float
    test_split: float
    max_examples: int | None
    train_size: int
    held_out: dict[str, dict[str, list]]
    counts: dict[str, collections.Counter]
    longest_target: int

    @classmethod
    def scan(
        cls,
        path: str | os.PathLike,
        levels: tuple[str, str],
        skip_header: bool = False,
        validation_split: float = 0.1,
        test_split: float = 0.1,
        max_examples: int | None = None,
    ) -> StreamedPairs:
        """Reads the file once; see the class description.

        Raises:
            DataFileError: A line is malformed, or the file holds no training pair.
        """
        path = Path(path)
        counts = {"source": collections.Counter(), "target": collections.Counter()}
        listed: dict[str, dict[str, dict[str, None]]] = {name: {} for name in HELD_OUT}
        chunk: dict[str, list[str]] = {"source": [], "target": []}
        train_size, longest = 0, 0

        def flush():
            nonlocal longest
            _count(counts["source"], chunk["source"], levels[0])
            _count(counts["target"], chunk["target"], levels[1])
            if levels[1] != "subword":
                longest = max(longest, _longest(chunk["target"], levels[1]))
            chunk["source"].clear()
            chunk["target"].clear()

        pairs = iter_pairs(path, skip_header=skip_header)
        for number, (source, target) in enumerate(pairs):
            if max_examples is not None and number >= max_examples:
                break
            split = hash_split(source, validation_split, test_split)
            if split == "train":
                train_size += 1
                chunk["source"].append(source)
                chunk["target"].append(target)
                if len(chunk["source"]) >= COUNT_CHUNK:
                    flush()
            elif source in listed[split] or len(listed[split]) < HELD_OUT_LIMIT:
                listed[split].setdefault(source, {})[target] = None
        flush()
        if not train_size:
            raise DataFileError(
                path,
                "no source falls in the training split (the split follows a hash of each "
                "source); expected more distinct sources or smaller held-out fractions",
            )
        held_out = {}
        for name in HELD_OUT:
            references = [list(targets) for targets in listed[name].values()]
            held_out[name] = {
                "sources": list(listed[name]),
                "targets": [options[0] for options in references],
                "references": references,
            }
        return cls(
            path, skip_header, validation_split, test_split, max_examples,
            train_size, held_out, counts, longest,
        )  # fmt: skip

    def train_pairs(self) -> Iterator[tuple[str, str]]:
        """The training pairs in file order, read again from disk."""
        pairs = iter_pairs(self.path, skip_header=self.skip_header)
        if self.max_examples is not None:
            pairs = itertools.islice(pairs, self.max_examples)
        first = first_train_bucket(self.validation_split, self.test_split)
        for pair in pairs:
            if hash_bucket(pair[0], HASH_BUCKETS) >= first:
                yield pair
